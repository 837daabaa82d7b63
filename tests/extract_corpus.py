"""Model responses in the shapes real models write, for tests/test_extract.py.

Every case answers ARC task 3c9b0459 of arc-agi-1 (rotate the grid by 180 degrees: 4 train
pairs, 1 test). Each is a dict:

- ``id``: a short name;
- ``content``: the response's visible text (``reasoning``: its reasoning field, when any);
- ``program``: what `arcnb.extract_code` must return (None: no program);
- ``outcome``: what running that program through the executor must give: ``solved`` (every
  train and test output right), ``wrong`` (it runs, some output is wrong), ``no_code``, or the
  error type of the first train example (``NameError``, ``SyntaxError``, ...).

The texts are written out in full, the way models send them, so that a change in extraction
shows up as a difference in a case's program.
"""

from __future__ import annotations

TASK = ("arc-agi-1", "3c9b0459")

CASES: list[dict] = [
    {
        "id": "helper_in_an_earlier_block",
        "content": """Looking at the examples, each output is the input rotated by 180 degrees.

First, a helper that reverses each row:

```python
def reverse_rows(grid):
    return [row[::-1] for row in grid]
```

Then the transform reverses the order of the rows as well:

```python
def transform(grid):
    return reverse_rows(grid)[::-1]
```

This rotates the grid by 180 degrees.""",
        "program": """def reverse_rows(grid):
    return [row[::-1] for row in grid]


def transform(grid):
    return reverse_rows(grid)[::-1]""",
        "outcome": "solved",
    },
    {
        "id": "import_and_helper_earlier_unused_helper_left_out",
        "content": """## Analysis

Each output grid is the input rotated 180°. I'll use numpy.

```python
import numpy as np

def to_array(grid):
    return np.array(grid, dtype=int)

def count_colors(grid):
    return len(np.unique(to_array(grid)))
```

## Solution

```python
def transform(grid):
    arr = to_array(grid)
    return np.rot90(arr, 2).tolist()
```""",
        "program": """import numpy as np


def to_array(grid):
    return np.array(grid, dtype=int)


def transform(grid):
    arr = to_array(grid)
    return np.rot90(arr, 2).tolist()""",
        "outcome": "solved",
    },
    {
        "id": "draft_then_correction",
        "content": """It looks like a vertical flip:

```python
def transform(grid):
    return grid[::-1]
```

Wait, checking example 1: the first row `[2, 2, 1]` becomes the last row `[1, 2, 2]`, so the
rows are reversed too. It is a 180° rotation. Corrected:

```python
def transform(grid):
    return [row[::-1] for row in grid[::-1]]
```""",
        "program": """def transform(grid):
    return [row[::-1] for row in grid[::-1]]""",
        "outcome": "solved",
    },
    {
        "id": "helper_redefined_later_wins",
        "content": """```python
def reverse(seq):
    return list(seq)

def transform(grid):
    return reverse([reverse(row) for row in grid])
```

Oops, `reverse` does not reverse anything. Fixed helper:

```python
def reverse(seq):
    return list(seq)[::-1]
```

And the final program:

```python
def transform(grid):
    return reverse([reverse(row) for row in grid])
```""",
        "program": """def reverse(seq):
    return list(seq)[::-1]


def transform(grid):
    return reverse([reverse(row) for row in grid])""",
        "outcome": "solved",
    },
    {
        "id": "untagged_fences",
        "content": """Helper:

```
def flip(grid):
    return [list(reversed(r)) for r in reversed(grid)]
```

Solution:

```
def transform(grid):
    return flip(grid)
```
""",
        "program": """def flip(grid):
    return [list(reversed(r)) for r in reversed(grid)]


def transform(grid):
    return flip(grid)""",
        "outcome": "solved",
    },
    {
        "id": "py_fences",
        "content": """```py
H_FLIP = lambda g: [r[::-1] for r in g]
```

```py
def transform(grid):
    return H_FLIP(grid)[::-1]
```""",
        "program": """H_FLIP = lambda g: [r[::-1] for r in g]


def transform(grid):
    return H_FLIP(grid)[::-1]""",
        "outcome": "solved",
    },
    {
        "id": "crlf_line_endings",
        "content": (
            "Rotation by 180 degrees.\r\n\r\n```python\r\ndef rot(grid):\r\n"
            "    return [row[::-1] for row in grid[::-1]]\r\n```\r\n\r\n```python\r\n"
            "def transform(grid):\r\n    return rot(grid)\r\n```\r\n"
        ),
        "program": """def rot(grid):
    return [row[::-1] for row in grid[::-1]]


def transform(grid):
    return rot(grid)""",
        "outcome": "solved",
    },
    {
        "id": "tab_indentation",
        "content": (
            "```python\ndef rot(grid):\n\tout = []\n\tfor row in reversed(grid):\n"
            "\t\tout.append(row[::-1])\n\treturn out\n```\n\n"
            "```python\ndef transform(grid):\n\treturn rot(grid)\n```\n"
        ),
        "program": (
            "def rot(grid):\n\tout = []\n\tfor row in reversed(grid):\n"
            "\t\tout.append(row[::-1])\n\treturn out\n\n\n"
            "def transform(grid):\n\treturn rot(grid)"
        ),
        "outcome": "solved",
    },
    {
        "id": "prose_and_inline_backticks_after_the_code",
        "content": """```python
def transform(grid):
    h, w = len(grid), len(grid[0])
    return [[grid[h - 1 - r][w - 1 - c] for c in range(w)] for r in range(h)]
```

`transform(grid)` reads cell `(h-1-r, w-1-c)` for each output cell `(r, c)`. I wrapped the
code in a ```python fence as asked; for a grid like `[[1, 2], [3, 4]]` it returns
`[[4, 3], [2, 1]]`.
```text
1 2    4 3
3 4 -> 2 1
```""",
        "program": """def transform(grid):
    h, w = len(grid), len(grid[0])
    return [[grid[h - 1 - r][w - 1 - c] for c in range(w)] for r in range(h)]""",
        "outcome": "solved",
    },
    {
        "id": "think_block_then_answer_with_helper",
        "content": """<think>
Let me try a transpose first.

```python
def transform(grid):
    return [list(c) for c in zip(*grid)]
```

No: example 1 is not a transpose. It is a 180 degree rotation.
</think>

The output is the input rotated by 180°.

```python
def rotate180(grid):
    return [row[::-1] for row in grid[::-1]]
```

```python
def transform(grid):
    return rotate180(grid)
```""",
        "program": """def rotate180(grid):
    return [row[::-1] for row in grid[::-1]]


def transform(grid):
    return rotate180(grid)""",
        "outcome": "solved",
    },
    {
        "id": "code_only_inside_the_think_block",
        "content": """<think>
```python
def flip_both(g):
    return [r[::-1] for r in g[::-1]]
```

```python
def transform(grid):
    return flip_both(grid)
```
</think>

The grid is rotated by 180 degrees; see the function above.""",
        "program": """def flip_both(g):
    return [r[::-1] for r in g[::-1]]


def transform(grid):
    return flip_both(grid)""",
        "outcome": "solved",
    },
    {
        "id": "main_harness_in_an_earlier_block_is_left_out",
        "content": """```python
def rotate(grid):
    # 180° rotation: the rows reversed, then each row — «à l'envers»
    return [row[::-1] for row in grid[::-1]]


if __name__ == "__main__":
    example = [[2, 2, 1], [2, 1, 2], [2, 8, 1]]
    print(rotate(example))
```

Output: `[[1, 8, 2], [2, 1, 2], [1, 2, 2]]`, as expected.

```python
def transform(grid):
    return rotate(grid)
```""",
        "program": """def rotate(grid):
    # 180° rotation: the rows reversed, then each row — «à l'envers»
    return [row[::-1] for row in grid[::-1]]


def transform(grid):
    return rotate(grid)""",
        "outcome": "solved",
    },
    {
        "id": "main_harness_in_the_final_block_is_kept_and_not_run",
        "content": """```python
import sys

def transform(grid):
    return [row[::-1] for row in grid[::-1]]

if __name__ == "__main__":
    print(transform([[1, 2], [3, 4]]))
    sys.exit(1)
```""",
        "program": """import sys

def transform(grid):
    return [row[::-1] for row in grid[::-1]]

if __name__ == "__main__":
    print(transform([[1, 2], [3, 4]]))
    sys.exit(1)""",
        "outcome": "solved",
    },
    {
        "id": "test_calls_before_and_after_are_left_out",
        "content": """```python
def mirror(grid):
    return [row[::-1] for row in grid]

example = [[2, 2, 1], [2, 1, 2], [2, 8, 1]]
print(mirror(example))
```

```python
def transform(grid):
    result = mirror(grid)
    return result[::-1]
```

Checking it:

```python
result = transform(example)
print(result)
assert result == [[1, 8, 2], [2, 1, 2], [1, 2, 2]]
```""",
        "program": """def mirror(grid):
    return [row[::-1] for row in grid]


def transform(grid):
    result = mirror(grid)
    return result[::-1]""",
        "outcome": "solved",
    },
    {
        "id": "truncated_final_block_falls_back",
        "content": """```python
def rev(xs):
    return xs[::-1]
```

```python
def transform(grid):
    return rev([rev(row) for row in grid])
```

A faster version with numpy:

```python
import numpy as np

def transform(grid):
    return np.flip(np.array(grid), axis=(0, 1)).tolist(""",
        "program": """def rev(xs):
    return xs[::-1]


def transform(grid):
    return rev([rev(row) for row in grid])""",
        "outcome": "solved",
    },
    {
        "id": "truncated_final_block_that_compiles_is_used",
        "content": """```python
def transform(grid):
    return grid
```

Wrong: it must rotate. Better:

```python
import numpy as np

def transform(grid):
    return np.rot90(np.array(grid), 2).tolist()

# Explanation: np.rot90 with k=2 rotates""",
        "program": """import numpy as np

def transform(grid):
    return np.rot90(np.array(grid), 2).tolist()

# Explanation: np.rot90 with k=2 rotates""",
        "outcome": "solved",
    },
    {
        "id": "code_only_in_the_reasoning_field",
        "content": "The grid is rotated by 180 degrees.",
        "reasoning": """Helper first.

```python
from itertools import chain

def flat(grid):
    return list(chain.from_iterable(grid))
```

Then rebuild the grid from the reversed cells.

```python
def transform(grid):
    w = len(grid[0])
    cells = flat(grid)[::-1]
    return [cells[i : i + w] for i in range(0, len(cells), w)]
```""",
        "program": """from itertools import chain


def flat(grid):
    return list(chain.from_iterable(grid))


def transform(grid):
    w = len(grid[0])
    cells = flat(grid)[::-1]
    return [cells[i : i + w] for i in range(0, len(cells), w)]""",
        "outcome": "solved",
    },
    {
        "id": "constants_and_import_from_an_earlier_block",
        "content": """```python
import numpy as np

TURNS = 2  # quarter turns
UNUSED_PALETTE = {0: "black", 1: "blue"}
```

```python
def transform(grid):
    return np.rot90(np.asarray(grid), k=TURNS).tolist()
```""",
        "program": """import numpy as np


TURNS = 2


def transform(grid):
    return np.rot90(np.asarray(grid), k=TURNS).tolist()""",
        "outcome": "solved",
    },
    {
        "id": "class_helper_and_transitive_uses",
        "content": """I'll model the grid as a small class.

```python
from functools import cache

def reverse(xs):
    return list(reversed(xs))

class Grid:
    def __init__(self, rows):
        self.rows = rows

    @cache
    def rotated(self):
        return Grid(reverse([reverse(r) for r in self.rows]))
```

```python
def transform(grid):
    return Grid(grid).rotated().rows
```""",
        "program": """from functools import cache


def reverse(xs):
    return list(reversed(xs))


class Grid:
    def __init__(self, rows):
        self.rows = rows

    @cache
    def rotated(self):
        return Grid(reverse([reverse(r) for r in self.rows]))


def transform(grid):
    return Grid(grid).rotated().rows""",
        "outcome": "solved",
    },
    {
        "id": "decorated_helper",
        "content": """```python
from functools import lru_cache

@lru_cache(maxsize=None)
def rev(row):
    return row[::-1]
```

```python
def transform(grid):
    return [list(rev(tuple(r))) for r in grid[::-1]]
```""",
        "program": """from functools import lru_cache


@lru_cache(maxsize=None)
def rev(row):
    return row[::-1]


def transform(grid):
    return [list(rev(tuple(r))) for r in grid[::-1]]""",
        "outcome": "solved",
    },
    {
        "id": "other_languages_and_grid_blocks_are_skipped",
        "content": """Input and output of example 1:

```
2 2 1
2 1 2
2 8 1
```

```
1 8 2
2 1 2
1 2 2
```

```bash
pip install numpy
```

```python
def flip_rows(grid):
    return grid[::-1]
```

```python
def transform(grid):
    return [row[::-1] for row in flip_rows(grid)]
```""",
        "program": """def flip_rows(grid):
    return grid[::-1]


def transform(grid):
    return [row[::-1] for row in flip_rows(grid)]""",
        "outcome": "solved",
    },
    {
        "id": "helper_in_a_block_that_does_not_parse",
        "content": """Pseudo-code:

```python
def rotate(grid):
    for each row in reversed(grid):
        yield reversed row
```

```python
def transform(grid):
    return [list(r) for r in rotate(grid)]
```""",
        "program": """def transform(grid):
    return [list(r) for r in rotate(grid)]""",
        "outcome": "NameError",
    },
    {
        "id": "helper_never_defined",
        "content": """```python
def transform(grid):
    return rotate_180(grid)
```

where `rotate_180` rotates the grid.""",
        "program": """def transform(grid):
    return rotate_180(grid)""",
        "outcome": "NameError",
    },
    {
        "id": "final_block_with_a_syntax_error_stays_alone",
        "content": """```python
def rev(xs):
    return xs[::-1]
```

```python
def transform(grid)
    return rev([rev(r) for r in grid])
```""",
        "program": """def transform(grid)
    return rev([rev(r) for r in grid])""",
        "outcome": "SyntaxError",
    },
    {
        "id": "wrong_rule",
        "content": """A horizontal mirror:

```python
def mirror(row):
    return row[::-1]
```

```python
def transform(grid):
    return [mirror(row) for row in grid]
```""",
        "program": """def mirror(row):
    return row[::-1]


def transform(grid):
    return [mirror(row) for row in grid]""",
        "outcome": "wrong",
    },
    {
        "id": "no_code",
        "content": "The output is the input rotated by 180 degrees: reverse the rows and "
        "then each row.",
        "program": None,
        "outcome": "no_code",
    },
]
