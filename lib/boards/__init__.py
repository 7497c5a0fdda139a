"""Boards: named collections of gallery images, kept by a member and shared as they choose.

What a board is and who may do what (the text rules, the access rule): :mod:`.rules`; the
reads and writes: :mod:`.store`.
"""
