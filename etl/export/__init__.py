"""What leaves the register for other systems: the ЕГИССО export (egisso.py). Personal data leaves only
in its packages, each audited."""
