"""Where a call's audio or text comes from and goes to (see :mod:`.base`)."""
