"""``python -m apps.cli``: how ``retail-intel run`` starts the process that does the work (see run.py)."""

from apps.cli import main

if __name__ == "__main__":
    main()
