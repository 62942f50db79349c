"""Figures of a finished sweep (:mod:`.figures`) and of one network (:mod:`.boundary`)."""
