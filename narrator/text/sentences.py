"""Where a sentence ends: one definition for cutting text (the messages sent
to a service, the embedded server's generations) and for breaking captions."""

from __future__ import annotations

import re

# . ! ? and the ellipsis end a sentence before whitespace; the danda, the
# double danda and the CJK full stops end one even with no space after them.
STOPS = ".!?\u2026"
UNSPACED_STOPS = "\u0964\u0965\u3002\uff01\uff1f"
# Closing quotes and brackets stay with the sentence they close: `end."` `(end!)` `好！」`.
CLOSERS = "\"'\u201d\u2019\u00bb\u203a)]}\u300d\u300f\uff09\u3011\u300b\u3009"

_CLOSING = f"[{re.escape(CLOSERS)}]*"
# A sentence's end in running text, with the whitespace after it.
SENTENCE_END = re.compile(rf"[{re.escape(STOPS)}]{_CLOSING}\s+|[{UNSPACED_STOPS}]{_CLOSING}\s*")
# A word that ends a sentence.
ENDS_SENTENCE = re.compile(rf"[{re.escape(STOPS)}{UNSPACED_STOPS}]{_CLOSING}$")
