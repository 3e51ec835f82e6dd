"""The collection's one error: something the office asked for that cannot be done, in Chinese and English."""

from __future__ import annotations


class CollectionError(Exception):
    """One line saying why, in both languages; the command line prints it and exits 1."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh
