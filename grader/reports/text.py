"""Student text in reports, made safe: whatever a student's code controls shows as the
text it is, in markdown, HTML and on a terminal."""

from __future__ import annotations

import re
import string

# --- student text in reports --------------------------------------------------------------
#
# Whatever a student's code controls (exception messages and explanations in a check's
# output, thread and process names in timelines, file names in a note, the student id,
# which is a folder name) reaches reports other people read: the class summary, the
# table on the instructor's terminal. None of it may add structure there (a heading, a
# link, HTML, a fake score) or drive the terminal, so every piece passes :func:`clean`,
# then html.escape in HTML, and in markdown :func:`md_fence` (blocks) or :func:`md_inline`
# (within a line). results.json keeps the text as it was (JSON escapes it; tools read it);
# grades.csv has the cleaned ids (the csv module quotes the rest), and an id that a
# spreadsheet would take for a formula (=, +, -, @ first) starts with an apostrophe.

# ANSI escape sequences: CSI (7- and 8-bit) up to its final byte; OSC, DCS, SOS, PM and
# APC strings up to BEL or ST (a string that another ESC or introducer interrupts is not
# one: its introducer goes, its text stays, and no input makes the search quadratic); any
# other ESC sequence (intermediates, then a final byte).
_ANSI = re.compile(r"""
    (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x90\x98\x9c-\x9f]* (?:\x07|\x1b\\|\x9c)
  | \x1b [ -/]* [0-~]
""", re.VERBOSE)
# C0 but newline and tab, DEL, C1; and the bidirectional controls, which reorder what a
# terminal or browser shows after them (a score in the same table row, say).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                      r"\u2066-\u2069]")
# Lone surrogates: a folder name that is not UTF-8 (os.fsdecode's surrogateescape); no
# encoder can write them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Characters with a meaning inside a line of markdown (CommonMark, GFM and common
# extensions): code, emphasis, links and images, HTML and entities, strikethrough, table
# cells, math, attributes, a heading's closing #s.
_MD_INLINE = re.compile(r"([\\`*_{}\[\]<>#!|~&$^])")
# At the start of a line, any punctuation may start a block (- + * = list items, setext
# underlines, thematic breaks; : definitions...): escaped there too.
_MD_LEADING = set(string.punctuation) - {"\\"}


def clean(text: str, one_line: bool = False) -> str:
    """``text`` without ANSI escape sequences, control characters (C0 but newline and tab,
    DEL, C1) or bidirectional controls; carriage returns and Unicode line separators
    become newlines, lone surrogates U+FFFD. ``one_line``: newlines and tabs become
    spaces too. What is left shows as itself on a terminal and encodes as UTF-8."""
    text = _ANSI.sub("", str(text))
    text = text.replace("\r\n", "\n").translate({0x0D: "\n", 0x2028: "\n", 0x2029: "\n"})
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    return text.translate({0x0A: " ", 0x09: " "}) if one_line else text


def md_fence(text: str, info: str = "text") -> str:
    """``text`` (cleaned) as a fenced markdown code block that it cannot close: the fence
    is a run of backticks longer than any in the text (at least three), so everything in
    it, headings, HTML, links, other fences, shows as the text it is."""
    text = clean(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def md_inline(text: str) -> str:
    """``text`` (cleaned, on one line) safe anywhere in a line of markdown, its start
    included: every character with a meaning within a line is backslash-escaped, and so
    is whatever would start a block at the start of a line (leading spaces are dropped).
    It renders as the text it is; it never starts a heading, a list, a link or HTML."""
    text = _MD_INLINE.sub(r"\\\1", clean(text, one_line=True).lstrip())
    if text and text[0] in _MD_LEADING:
        return "\\" + text
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # "1." or "1)": an ordered list
