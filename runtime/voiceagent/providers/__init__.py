"""Speech and language providers behind small ``typing.Protocol`` interfaces (see :mod:`.base`)."""
