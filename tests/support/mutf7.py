"""Modified UTF-7 (RFC 3501 5.1.3) for the Python test tools: the corpus
generator and the independent comparer share it. Written from the RFC,
not from mailferry's C code, so the two can check each other."""

import base64


def mutf7_encode(name):
    """RFC 3501 5.1.3: printable ASCII stands for itself ('&' as '&-'),
    runs of anything else are UTF-16BE in base64 with ',' for '/', no
    padding, between '&' and '-'."""
    out = []
    run = []

    def flush():
        if run:
            b = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=")
                       .replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(s):
    out = []
    i = 0
    while i < len(s):
        if s[i] != "&":
            out.append(s[i])
            i += 1
            continue
        j = s.index("-", i)
        if j == i + 1:
            out.append("&")
        else:
            b64 = s[i + 1:j].replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = j + 1
    return "".join(out)
