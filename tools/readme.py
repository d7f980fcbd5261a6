"""Write README.md from nbs/index.ipynb where Quarto (and so `nbdev-readme`) is not available.

Hidden cells (`#| hide`) are left out, code cells become ```python blocks, their saved text outputs ``` blocks.
Run `nbdev-readme` instead where `quarto` is on PATH."""
import json
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def _source(cell): return ''.join(cell['source']).strip()

def _is_hidden(src): return any(l.strip() in ('#| hide', '#|hide') for l in src.splitlines() if l.startswith('#|'))

def _outputs(cell):
    "Text outputs, without stderr (warnings) and without the placeholders of HTML-only displays (fastai's progress tables)"
    texts = [''.join(o.get('text', '')) or ''.join(o.get('data', {}).get('text/plain', '')) for o in cell.get('outputs', [])
             if o.get('name') != 'stderr']
    return [t.rstrip() for t in texts if t.strip() and not t.lstrip().startswith(('<IPython.core.display.', '<div', '<style'))]

def notebook_markdown(nb_path):
    "Markdown for the notebook at `nb_path`"
    parts = []
    for cell in json.loads(Path(nb_path).read_text())['cells']:
        src = _source(cell)
        if cell['cell_type'] == 'markdown': parts.append(src)
        elif cell['cell_type'] == 'code' and src and not _is_hidden(src):
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
            parts.append(f"```python\n{code}\n```")
            parts += [f"```\n{o}\n```" for o in _outputs(cell)]
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    (root/'README.md').write_text('<!-- Generated from nbs/index.ipynb by tools/readme.py; edit the notebook, not this file -->\n\n'
                                  + notebook_markdown(root/'nbs'/'index.ipynb'))
