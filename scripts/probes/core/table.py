import sys, re
rows = {}
for line in open(sys.argv[1] if len(sys.argv) > 1 else "out.txt"):
    p = [x.strip() for x in line.split("|", 3)]
    if len(p) == 4 and p[0] in ("VAGUE", "SILENT"):
        what = re.sub(r"/tmp/coreprobe-\w+", "<tmp>", p[3])
        what = re.sub(r"\s*\[reclassified: (.*)\]$", r" — \1", what)
        what = re.sub(r"^returned ", "→ ", what)[:170].replace("|", "/")
        rows.setdefault(p[1], []).append((p[0], p[2].replace("|", "/"), what))
for m, rs in rows.items():
    print(f"\n**{m}**\n\n| class | call | what happened |\n|---|---|---|")
    for c, call, what in sorted(rs):
        print(f"| {c} | `{call}` | {what} |")
