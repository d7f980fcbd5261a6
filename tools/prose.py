"""Sentence lengths of the notebooks' prose (issue 38: sentences a reader takes in at once).

For each notebook, the markdown cells' prose is split into sentences and measured: the number of sentences, the median
and the 90th percentile of words per sentence, and how many sentences are over 35 words; then the same for all the
notebooks together. Dropped: code blocks (```), tables (lines starting with `|`), headings, Quarto fences (`:::`),
images and HTML tags. An inline code span or a `$...$` formula counts as one word, a link as its text; list markers are
stripped and each list item starts a sentence. A sentence ends at `.`, `?` or `!` followed by a space or a line's end
(not after `e.g.`, `i.e.`, `etc.`, `vs.`, `cf.`), and at a paragraph's end; a colon never ends one.

    python tools/prose.py [--long N] [NOTEBOOK ...]     # default: every notebook in nbs/

`--long N` also lists each notebook's sentences over N words, longest first.
"""
import argparse, json, re, statistics
from pathlib import Path

root = Path(__file__).resolve().parents[1]
ABBREV = re.compile(r'\b(e\.g|i\.e|etc|vs|cf)\.$', re.I)
LIST_ITEM = re.compile(r'^\s*(?:[-*+]|\d+[.)])\s+')

def blocks(md:str):
    "Paragraphs and list items of a markdown cell's prose, each as one string."
    out, cur, fence = [], [], False
    def flush():
        if cur: out.append(' '.join(cur))
        cur.clear()
    for line in md.splitlines():
        s = line.strip()
        if s.startswith('```'): fence = not fence; flush(); continue
        if fence or s.startswith(('|', '#', ':::')) or not s: flush(); continue
        if LIST_ITEM.match(line): flush(); s = LIST_ITEM.sub('', line).strip()
        cur.append(s)
    flush()
    return out

def clean(text:str) -> str:
    "Code spans and formulas become one word; links their text; images and HTML tags go."
    text = re.sub(r'`[^`]*`', 'CODE', text)
    text = re.sub(r'\$[^$]+\$', 'MATH', text)
    text = re.sub(r'!\[[^\]]*\]\([^)]*\)', ' ', text)
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)
    return re.sub(r'<[^>]+>', ' ', text)

def sentences(text:str):
    "Split one block into sentences: at `.`, `?`, `!` followed by a space or the end (abbreviations excepted)."
    out, start = [], 0
    for m in re.finditer(r'[.?!]["\')\]*_]*(?=\s|$)', text):
        if m.group()[0] == '.' and ABBREV.search(text[start:m.start()+1]): continue
        out.append(text[start:m.end()]); start = m.end()
    out.append(text[start:])
    return [s.strip() for s in out if re.search(r'\w', s)]

def words(s:str) -> int: return sum(1 for w in s.split() if re.search(r'\w', w))

def notebook_sentences(path:Path):
    "Every sentence of the markdown cells of notebook `path`."
    cells = json.loads(path.read_text())['cells']
    return [s for c in cells if c['cell_type'] == 'markdown'
            for b in blocks(''.join(c['source'])) for s in sentences(clean(b))]

def stats(lengths) -> str:
    if not lengths: return 'no prose'
    p90 = statistics.quantiles(lengths, n=10)[-1] if len(lengths) > 1 else lengths[0]
    return (f'{len(lengths):5d} sentences  median {statistics.median(lengths):4.1f}  p90 {p90:5.1f}  '
            f'over 35: {sum(n > 35 for n in lengths):3d}')

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', type=Path)
    p.add_argument('--long', type=int, help='list sentences over this many words')
    a = p.parse_args()
    paths = a.notebooks or sorted((root/'nbs').glob('*.ipynb'))
    every = []
    for path in paths:
        ss = notebook_sentences(path)
        lengths = [words(s) for s in ss]
        every += lengths
        print(f'{path.stem:32s} {stats(lengths)}')
        if a.long:
            for n, s in sorted(((words(s), s) for s in ss if words(s) > a.long), reverse=True): print(f'    {n:3d}  {s}')
    print(f'{"all (" + str(len(paths)) + " notebooks)":32s} {stats(every)}')

if __name__ == '__main__': main()
