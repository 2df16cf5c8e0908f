"""pooltui: see inside a hung Python process pool — process tree, thread stacks, who holds which lock."""

__version__ = "0.1.0"
