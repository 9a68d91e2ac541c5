# SPDX-License-Identifier: MIT
"""The one table bench/run prints: each figure, its target, its baselines from the same run
and PASS or MISS. Informational only: a MISS never changes the exit status."""


class Row:
    def __init__(self, figure, value, target="", baseline="", verdict=None):
        self.figure = figure
        self.value = value
        self.target = target
        self.baseline = baseline
        # True: PASS, False: MISS, None: no target.
        self.verdict = verdict

    def cells(self):
        verdict = "" if self.verdict is None else ("PASS" if self.verdict else "MISS")
        return [self.figure, self.value, self.target, verdict, self.baseline]


class Table:
    HEADER = ["figure", "wspushd", "target", "", "baseline(s), same run"]

    def __init__(self):
        self.sections = []

    def section(self, title):
        self.sections.append((title, []))

    def add(self, *args, **kwargs):
        self.sections[-1][1].append(Row(*args, **kwargs))

    def skip(self, figure, why):
        self.add(figure, "n/a", baseline=why)

    def render(self):
        rows = [row.cells() for _, section in self.sections for row in section]
        widths = [max(len(cells[i]) for cells in rows + [self.HEADER]) for i in range(4)]

        def line(cells):
            return "  ".join([cells[0].ljust(widths[0]), cells[1].rjust(widths[1]),
                              cells[2].ljust(widths[2]), cells[3].ljust(widths[3]),
                              cells[4]]).rstrip()

        out = [line(self.HEADER)]
        for title, section in self.sections:
            out.append(f"-- {title}")
            out += [line(row.cells()) for row in section]
        return "\n".join(out)

    def verdicts(self):
        rows = [row for _, section in self.sections for row in section]
        judged = [row for row in rows if row.verdict is not None]
        return sum(1 for row in judged if row.verdict), len(judged)


def count(value):
    return f"{value:,.0f}"


def ratio(value, base):
    return value / base if base else float("nan")
