#!/usr/bin/env python3
# Splits an HTML page of checker into its parts, in bytes (bench/RESULTS-html.md).
# Usage: bench/html-breakdown.py PAGE.html
import re,sys
s=open(sys.argv[1]).read()
def size(pat):
    return sum(len(m.group(0)) for m in re.finditer(pat,s,re.S))
print('total',len(s.encode()))
print('style',size(r'<style>.*?</style>'))
print('svg',size(r'<svg.*?</svg>'), len(re.findall('<svg',s)))
for sec in ['graph','verdicts','findings','clauses','coverage']:
    m=re.search(r'<section id="%s".*?</section>'%sec,s,re.S)
    print(sec, len(m.group(0)) if m else None)
print('edges table', size(r'<table id="edges">.*?</table>'))
print('rows', len(re.findall('<tr',s)))
