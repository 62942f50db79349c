"""The network: its maths written plainly (:mod:`.plain`) and the exact NumPy training engine (:mod:`.engine`)."""
