"""Character-level language-modelling data: a vocabulary of characters and (x, y) windows
shifted by one, for a tiny GPT. Works offline on DEFAULT_TEXT when no text is given."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Written for this project; free to use for any purpose.
DEFAULT_TEXT = """\
The lighthouse keeper wrote in his log every evening, whether or not anything had happened.
Wind from the west, he would write, and a grey sea. Two boats went out and two came back.
The lamp was trimmed at six. The gulls were loud on the rocks below the tower.

In winter the days were short and the nights were long, and the lamp burned from four in the
afternoon until eight in the morning. He climbed the hundred and twelve steps four times a
night to wind the clockwork that turned the lens. He counted the steps as he went, not because
he did not know the number, but because counting kept his mind from wandering.

On clear nights he could see the lights of the town across the bay, small and yellow, and the
slow sweep of his own beam over the water. He liked to think that somewhere a sailor was
watching it too, counting the seconds between the flashes: three short, one long, and a pause.
Every lighthouse on the coast had its own rhythm, so that a ship could tell where it was by
light alone.

When the spring came the keeper painted the iron railings white and mended the roof of the
oil store. His daughter came from the town with bread, letters and news. She asked him once
whether he was lonely. He thought about it for a long time, and then he said that a man who
keeps a light is never quite alone, because the light is kept for someone.
"""


class CharVocab:
    """The sorted unique characters of a text, with encode (str -> int64 ids) and decode."""

    def __init__(self, text: str):
        if not text:
            raise ValueError("cannot build a character vocabulary from an empty text")
        self.itos = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> np.ndarray:
        """str of length L -> (L,) int64 ids."""
        try:
            return np.fromiter((self.stoi[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        """Sequence of ids -> str."""
        return "".join(self.itos[int(i)] for i in ids)


class CharDataset:
    """Windows of a character text: item i is (x, y), each (block_size,) int64, y = x shifted
    left by one (the next character of each position).

    text_or_path: the text itself, a path (str or os.PathLike) to a UTF-8 file, or None for
    DEFAULT_TEXT. A str is read as a path only when such a file exists.
    """

    def __init__(self, text_or_path: str | os.PathLike | None = None, block_size: int = 64):
        text = _read_text(text_or_path)
        if not 1 <= block_size < len(text):
            raise ValueError(
                f"block_size must be in [1, {len(text) - 1}] for a text of {len(text)} "
                f"characters, got {block_size}"
            )
        self.text = text
        self.block_size = block_size
        self.vocab = CharVocab(text)
        self.data = self.vocab.encode(text)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> np.ndarray:
        return self.vocab.encode(text)

    def decode(self, ids) -> str:
        return self.vocab.decode(ids)

    def __len__(self) -> int:
        # A window needs block_size + 1 characters: the inputs and one more target.
        return len(self.data) - self.block_size

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} windows")
        start = index % n
        chunk = self.data[start : start + self.block_size + 1]
        return chunk[:-1].copy(), chunk[1:].copy()


def _read_text(text_or_path) -> str:
    if text_or_path is None:
        return DEFAULT_TEXT
    if isinstance(text_or_path, os.PathLike) or (
        isinstance(text_or_path, str) and "\n" not in text_or_path and os.path.isfile(text_or_path)
    ):
        return Path(text_or_path).read_text(encoding="utf-8")
    if isinstance(text_or_path, str):
        return text_or_path
    raise TypeError(f"expected text, a path or None, got {type(text_or_path).__name__}")
