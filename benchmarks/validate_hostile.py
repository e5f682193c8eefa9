"""The hostile corpus of ``benchmarks/validate_speed.py``: agent files built to make ``validate``
slow, hungry or crash (issue 10 class 3), each at most 1 MB (the loader's file-size limit).

:func:`hostile_corpus` writes the files into a folder and returns ``{case name: path}``. Each
case names what it attacks; ``validate`` must answer every one in < 1 s with bounded memory.
"""

from __future__ import annotations

import os
from pathlib import Path

LIMIT = 1_000_000
"""The loader's file-size limit (voiceagent.config.yamlnodes.MAX_FILE_BYTES), in bytes."""

HEAD = "version: 1\nname: hostile\nprompt: p\n"


def _fill(prefix: str, item: str, suffix: str = "", limit: int = LIMIT - 200, items: int = 10**9) -> str:
    """``prefix`` + ``item`` (formatted with ``i``) repeated until the text is about ``limit`` bytes."""
    parts = [prefix]
    size = len(prefix) + len(suffix)
    i = 0
    while True:
        piece = item.format(i=i)
        if size + len(piece) > limit or i >= items:
            break
        parts.append(piece)
        size += len(piece)
        i += 1
    parts.append(suffix)
    return "".join(parts)


def _states(n_bytes: int, body: str, items: int = 10_000) -> str:
    """A flow of ``items`` states at most (10 000 states of ~9 values each stay under the
    loader's 100 000-value limit, so the checks behind it run).
    """
    return _fill(
        "version: 1\nname: hostile\nprompt: p\nflow:\n  initial: s0\n  states:\n", body, limit=n_bytes, items=items
    )


def cases() -> dict[str, str]:
    """{case name: file text}."""
    out: dict[str, str] = {
        # Jinja2 folded constants while compiling: never returned / 800 MB
        "jinja_pow_prompt": HEAD.replace("prompt: p", 'prompt: "{{ 9**(9**10) }}"'),
        "jinja_repeat_prompt": HEAD.replace("prompt: p", "prompt: \"{{ 'A' * 200000000 }}\""),
        "jinja_filter_prompt": HEAD.replace("prompt: p", "prompt: \"{{ 'A' | center(200000000) }}\""),
        "jinja_replace_chain": HEAD.replace(
            "prompt: p", "prompt: \"{{ 'a'" + "|replace('a','aaaaaaaaaa')" * 12 + ' }}"'
        ),
        "jinja_pow_guard": HEAD
        + "flow:\n  initial: s0\n  states:\n    s0:\n      transitions:\n"
        + "        - {to: s0, when: \"9**(9**10) > 1 and 'A' * 200000000\"}\n",
        # recursion: RecursionError tracebacks
        "parens_300_prompt": HEAD.replace("prompt: p", 'prompt: "{{ ' + "(" * 300 + "1" + ")" * 300 + ' }}"'),
        "not_1000_guard": HEAD
        + 'flow:\n  initial: s0\n  states:\n    s0:\n      transitions:\n        - {to: s0, when: "'
        + "not " * 1000
        + 'x"}\n',
        "filters_5000_prompt": HEAD.replace("prompt: p", 'prompt: "{{ x' + "|upper" * 5000 + ' }}"'),
        "ifs_2000_prompt": HEAD.replace("prompt: p", 'prompt: "' + "{% if x %}" * 2000 + "{% endif %}" * 2000 + '"'),
        # quadratic "did you mean" over state names (151 KB took 19 s)
        "flow_undefined_targets": _states(
            LIMIT, "    state_{i:06d}:\n      transitions:\n        - {{to: stat_{i:06d}x, description: next}}\n"
        ),
        "flow_valid_chain": _states(
            LIMIT, "    s{i}:\n      transitions:\n        - {{to: s{i}, description: stay here}}\n"
        ),
        "flow_undefined_tools": _states(LIMIT, "    state_{i:06d}:\n      tools: [tool_{i:06d}x]\n"),
        "flow_long_names": _states(
            LIMIT,
            "    " + "n" * 3000 + "{i}:\n      transitions:\n        - {{to: " + "m" * 3000 + ", description: x}}\n",
        ),
        # many templates, many names
        "many_templates": _states(
            LIMIT, '    s{i}:\n      instructions: "Say {{{{ company }}}} {{{{ caller.phone }}}} {{{{ nme_{i} }}}}"\n'
        ),
        "many_variables_and_typos": _fill(
            "version: 1\nname: hostile\nprompt: p\nvariables:\n", "  var_{i:06d}: x\n", limit=LIMIT // 2
        )
        + _fill('greeting: "', "{{{{ vr_{i:06d} }}}}", '"\n', limit=LIMIT // 2 - 100),
        "dense_prompt_180k": HEAD.replace("prompt: p", 'prompt: "' + "{{ x }}" * 25_000 + '"'),
        "one_huge_prompt": _fill(
            "version: 1\nname: hostile\nprompt: |\n", "  Line {i} says {{{{ company }}}} and more text here.\n"
        ),
        "many_tools_missing_modules": _fill(
            HEAD + "tools:\n", "  - {{name: t{i}, description: d, python: 'tools_{i}.m:f'}}\n", items=12_000
        ),
        "many_tools_same_module": _fill(
            HEAD + "tools:\n",
            "  - {{name: t{i}, description: d, parameters: {{x: {{}}}}, python: 'tools.acme:f{i}'}}\n",
            items=8_000,
        ),
        "many_guards": _states(
            LIMIT,
            "    s{i}:\n      transitions:\n"
            '        - {{to: s{i}, when: "session.turns > {i} and session.verification_level >= 1"}}\n',
        ),
        "deep_yaml": HEAD
        + "variables:\n"
        + "".join("  " * (d + 1) + f"k{d}:\n" for d in range(63))
        + "  " * 64
        + "x: 1\n",
        "wide_yaml": _fill(HEAD + "variables: {", "v{i}: [1, 2, 3], ", "}\n"),
        "billion_laughs": HEAD
        + "variables:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"  {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        ),
        "long_guard_message": HEAD
        + 'flow:\n  initial: s0\n  states:\n    s0:\n      transitions:\n        - {to: s0, when: "'
        + "x " * 300_000
        + '"}\n',
    }
    return out


TOOL_MODULE = "def f(x):\n    return x\n"


def hostile_corpus(dest: Path) -> dict[str, Path]:
    """Write the corpus into ``dest`` (created); return ``{case: path}``.

    Besides the YAML cases: ``symlink_dev_zero`` (an agent file that is a symlink to
    ``/dev/zero``), ``fifo`` (a named pipe), ``extends_outside`` (``extends: /etc/passwd``) and
    ``huge_tool_module`` (a 1 MB Python module with 100 000 functions).
    """
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ".git").mkdir(exist_ok=True)  # the corpus is its own source tree
    tools = dest / "tools"
    tools.mkdir(exist_ok=True)
    (tools / "acme.py").write_text("".join(f"def f{i}(x):\n    return x\n" for i in range(2000)))
    (tools / "huge.py").write_text(_fill("", "def g{i}(a, b=1, *, c=2):\n    return a\n"))
    paths: dict[str, Path] = {}
    for name, text in cases().items():
        assert len(text.encode()) <= LIMIT, (name, len(text.encode()))
        path = dest / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    huge = dest / "huge_tool_module.yaml"
    huge.write_text(HEAD + "tools:\n  - {name: t, description: d, parameters: {a: {}}, python: 'tools.huge:g20000'}\n")
    paths["huge_tool_module"] = huge
    outside = dest / "extends_outside.yaml"
    outside.write_text("extends: /etc/passwd\nname: x\nprompt: p\n")
    paths["extends_outside"] = outside
    up = dest / "extends_up.yaml"
    up.write_text("extends: ../../../../../../../../etc/passwd\nname: x\nprompt: p\n")
    paths["extends_up"] = up
    zero = dest / "symlink_dev_zero.yaml"
    if not zero.exists():
        zero.symlink_to("/dev/zero")
    paths["symlink_dev_zero"] = zero
    fifo = dest / "fifo.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    paths["fifo"] = fifo
    return paths
