"""ncu's source page (CSV, SASS view) as records, one per SASS instruction, for the sass_*.py summaries:

  ncu --import run.ncu-rep --page source --csv --print-source sass > source.csv
"""
import csv


class Instruction:
    """One SASS line: its address (and offset from the kernel's first), text, opcode and the page's counters by name."""

    def __init__(self, header, row, base):
        self._values = dict(zip(header, row))
        self.address = int(self._values["Address"], 16)
        self.offset = self.address - base
        self.source = self._values["Source"].strip()
        words = self.source.split()
        predicated = bool(words) and words[0].startswith("@")
        # the full opcode with its modifiers (LDSM.16.M88.4), and its name (LDSM)
        self.full_opcode = (words[1] if predicated and len(words) > 1 else words[0]) if words else ""
        self.opcode = self.full_opcode.split(".")[0]

    def value(self, column):
        """The counter in <column> as a number (0 where empty or absent)."""
        try:
            return float(self._values.get(column, "").replace(",", ""))
        except ValueError:
            return 0.0


def read(path):
    """The page's header and its instructions (rows with an address and some text)."""
    rows = list(csv.reader(open(path, newline="")))
    header_at = next(i for i, r in enumerate(rows) if "Address" in r and "Source" in r)
    header = rows[header_at]
    address, source = header.index("Address"), header.index("Source")
    body = [r for r in rows[header_at + 1:] if len(r) > source and r[address].startswith("0x") and r[source].split()]
    base = int(body[0][address], 16) if body else 0
    return header, [Instruction(header, r, base) for r in body]
