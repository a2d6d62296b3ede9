#!/usr/bin/env python3
"""Builds the tokenizer benchmark corpus (issue 5) from files already on disk, into a
directory (default /tmp/tokcorpus). Deterministic for a given machine: files are taken in
sorted order, random inputs are seeded. Nothing here is committed but this script.

  prose.txt            >= 1.5 MB of English prose: license texts, Debian copyright files,
                       README/CHANGELOG .md files of the crates in ~/.cargo/registry
  code.txt             >= 1.5 MB of code: Rust sources from ~/.cargo/registry (2/3) and
                       Python sources from the interpreter's site-packages (1/3)
  adv_a_1m.txt         1 MiB of 'a'
  adv_spaces_1m.txt    1 MiB of ' ' (a whitespace run: tiktoken's `\\s+(?!\\S)`)
  adv_letters_100k.txt 100 KiB of random ASCII letters (seed 5)
  adv_base64_1m.txt    1 MiB of base64 of random bytes, one line (seed 5)
  adv_json_nested.txt  [[[ ... ]]] 100,000 deep (200 KB)
"""
import base64, glob, os, random, sys, sysconfig

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/tokcorpus"
os.makedirs(out, exist_ok=True)
home = os.path.expanduser("~")
LIMIT = 1_600_000


def gather(paths, limit, per_file=200_000):
    parts, total = [], 0
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                t = f.read()[:per_file]
        except (UnicodeDecodeError, OSError):
            continue
        if len(t) < 200:
            continue
        parts.append(t)
        total += len(t.encode())
        if total >= limit:
            break
    return "\n\n".join(parts)


def write(name, text):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{name}: {len(text.encode())} bytes")


reg = sorted(glob.glob(f"{home}/.cargo/registry/src/*/*"))
prose_paths = sorted(glob.glob("/usr/share/common-licenses/*"))
prose_paths += sorted(glob.glob("/usr/share/doc/*/copyright"))
for d in reg:
    prose_paths += sorted(p for p in glob.glob(f"{d}/*.md") if os.path.basename(p).upper().startswith(("README", "CHANGELOG")))
write("prose.txt", gather(prose_paths, LIMIT, per_file=60_000))

rust = [p for d in reg for p in sorted(glob.glob(f"{d}/src/**/*.rs", recursive=True))]
site = sysconfig.get_paths()["purelib"]
py = sorted(glob.glob(f"{site}/**/*.py", recursive=True))
write("code.txt", gather(rust[::7], LIMIT * 2 // 3, per_file=40_000) + "\n\n" + gather(py[::3], LIMIT // 3, per_file=40_000))

rng = random.Random(5)
write("adv_a_1m.txt", "a" * (1 << 20))
write("adv_spaces_1m.txt", " " * (1 << 20))
letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
write("adv_letters_100k.txt", "".join(rng.choice(letters) for _ in range(100 << 10)))
write("adv_base64_1m.txt", base64.b64encode(rng.randbytes(3 << 18)).decode())
write("adv_json_nested.txt", "[" * 100_000 + "]" * 100_000)
