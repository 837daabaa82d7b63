"""arcnb: program-synthesis evaluation of language models on ARC-AGI."""

__version__ = "0.1.0"
