#!/usr/bin/env python3
"""Turn a text file into a C header holding it as one string constant:
embed_text.py INPUT OUTPUT SYMBOL"""
import sys

source, output, symbol = sys.argv[1:4]
with open(source, encoding="utf-8") as f:
    text = f.read()
lines = ["/* Generated from %s; do not edit. */" % source.rsplit("/", 1)[-1],
         "static const char %s[] =" % symbol]
for line in text.splitlines(keepends=True):
    escaped = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    lines.append('\t"%s"' % escaped)
lines[-1] += ";"
with open(output, "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
