"""States whose LLM function names collide (``a-b`` and ``a_b`` are both ``go_to_a_b``) validated
but made ``run`` fail (issue 10 class 8): validate refuses the second one at its line."""

from __future__ import annotations

from config_helpers import errors, where

FLOW = """\
name: demo
prompt: p
flow:
  initial: a-b
  states:
    a-b:
      transitions:
        - {to: a_b, description: next}
    a_b:
      transitions:
        - {to: a-b, description: back}
"""


def test_colliding_state_names_are_refused_at_the_second_state(check):
    assert where(errors(check(FLOW))) == [
        (
            9,
            5,
            "state 'a_b' and state 'a-b' (line 6) both become the LLM function go_to_a_b (characters other "
            "than letters, digits and _ turn into _); rename one of them, e.g. 'a_b_2'",
        )
    ]


def test_distinct_function_names_are_fine(check):
    assert errors(check(FLOW.replace("a_b", "a_c"))) == []
