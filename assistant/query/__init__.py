"""Stage 3, understanding the question: its time and outlet scope, the names and kind of thing it
asks for, follow-ups and spellings.
"""
