#!/usr/bin/env python3
"""tests/integration/debroot.py — a clean Debian root from the host's own
installed packages, for test_packaging_install.sh.

Why: the install test must run the packaged binaries with nothing but what
the packages declare, without the network and in seconds. Every library a
package can depend on is already installed on the host (the build needs
it), so this copies, for a set of .deb files, the dependency closure of
their Depends/Pre-Depends (alternatives and virtual packages resolved to
what the host has installed), plus Debian's Essential set, which policy
lets every package use undeclared (sh for the maintainer scripts, coreutils,
dpkg, ...). Each package's files are copied as `dpkg -L` lists them, and
its status stanza is written into the root's dpkg database, so that
`dpkg --root` can then check the .debs' Depends against the root honestly.

  debroot.py ROOT DEB...    builds ROOT; prints the declared closure (the
                            packages reachable from the .debs' Depends,
                            without the Essential-only ones), one a line
"""
import os
import re
import shutil
import subprocess
import sys


def query():
    fields = ["binary:Package", "Package", "Architecture", "Status", "Essential",
              "Depends", "Pre-Depends", "Provides"]
    fmt = "\\t".join("${%s}" % f for f in fields) + "\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], check=True,
                         capture_output=True, text=True).stdout
    native = subprocess.run(["dpkg", "--print-architecture"], check=True,
                            capture_output=True, text=True).stdout.strip()
    pkgs, providers = {}, {}
    for line in out.splitlines():
        bp, name, arch, status, ess, dep, pre, prov = line.split("\t")
        if status != "install ok installed" or arch not in (native, "all"):
            continue
        pkgs[name] = {"id": bp, "essential": ess == "yes",
                      "depends": ", ".join(x for x in (pre, dep) if x)}
        for p in split_rel(prov):
            providers.setdefault(p[0][0], []).append(name)
    return pkgs, providers


def split_rel(text):
    """'a (>= 1) | b:any, c' -> [[('a', '>= 1'), ('b', '')], [('c', '')]]"""
    groups = []
    for group in text.split(","):
        group = group.strip()
        if not group:
            continue
        alts = []
        for alt in group.split("|"):
            m = re.match(r"\s*([^\s(:]+)(?::\S+)?\s*(?:\(([^)]*)\))?", alt)
            alts.append((m.group(1), (m.group(2) or "").strip()))
        groups.append(alts)
    return groups


def resolve(group, pkgs, providers):
    for name, _ in group:
        if name in pkgs:
            return name
    for name, _ in group:
        for p in providers.get(name, []):
            return p
    alts = " | ".join(n + (f" ({v})" if v else "") for n, v in group)
    sys.exit(f"debroot: the host has nothing installed for \"{alts}\"")


def closure(start, pkgs, providers):
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for group in split_rel(pkgs[name]["depends"]):
            todo.append(resolve(group, pkgs, providers))
    return seen


def main():
    root, debs = sys.argv[1], sys.argv[2:]
    pkgs, providers = query()
    declared = []
    for deb in debs:
        rel = subprocess.run(["dpkg-deb", "-f", deb, "Pre-Depends", "Depends"],
                             check=True, capture_output=True, text=True).stdout
        rel = ", ".join(l.split(":", 1)[1] for l in rel.splitlines() if ":" in l)
        declared += [resolve(g, pkgs, providers) for g in split_rel(rel)]
    wanted = closure(declared, pkgs, providers)
    essential = closure([n for n, p in pkgs.items() if p["essential"]], pkgs, providers)
    everything = sorted(wanted | essential)

    # Merged /usr, as every Debian 12 system is.
    for d in ("bin", "sbin", "lib", "lib64"):
        os.makedirs(f"{root}/usr/{d}", exist_ok=True)
        if not os.path.lexists(f"{root}/{d}"):
            os.symlink(f"usr/{d}", f"{root}/{d}")
    dpkgdir = f"{root}/var/lib/dpkg"
    for d in ("info", "updates", "triggers", "alternatives"):
        os.makedirs(f"{dpkgdir}/{d}", exist_ok=True)
    for f in ("available", "diversions", "statoverride"):
        open(f"{dpkgdir}/{f}", "a").close()

    files = []
    with open(f"{dpkgdir}/status", "w") as status:
        for name in everything:
            pid = pkgs[name]["id"]
            stanza = subprocess.run(["dpkg-query", "-s", pid], check=True,
                                    capture_output=True, text=True).stdout
            status.write(stanza.rstrip("\n") + "\n\n")
            listed = subprocess.run(["dpkg-query", "-L", pid], check=True,
                                    capture_output=True, text=True).stdout.splitlines()
            with open(f"{dpkgdir}/info/{pid}.list", "w") as lst:
                lst.write("\n".join(listed) + "\n")
            for info in (pid, name):
                if os.path.exists(f"/var/lib/dpkg/info/{info}.md5sums"):
                    shutil.copy(f"/var/lib/dpkg/info/{info}.md5sums", f"{dpkgdir}/info/")
                    break
            for path in listed:
                # Directories come with their files; a top-level alias
                # (/bin, /lib, ...) is already the merged-/usr symlink.
                if os.path.islink(path) or os.path.isfile(path):
                    if os.path.dirname(path) != "/" or not os.path.lexists(root + path):
                        files.append(path.lstrip("/"))
    tar_in = subprocess.Popen(["tar", "-C", "/", "--no-recursion", "-cf", "-", "-T", "-"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    tar_out = subprocess.Popen(["tar", "-C", root, "--keep-directory-symlink", "-xf", "-"],
                               stdin=tar_in.stdout)
    tar_in.stdin.write("\n".join(files).encode() + b"\n")
    tar_in.stdin.close()
    if tar_out.wait() or tar_in.wait():
        sys.exit("debroot: copying the packages' files failed")

    # What the Essential packages' maintainer scripts would have made.
    os.makedirs(f"{root}/etc", exist_ok=True)
    for f in ("passwd", "group"):
        shutil.copy(f"{root}/usr/share/base-passwd/{f}.master", f"{root}/etc/{f}")
    for d in ("proc", "dev", "tmp", "run", "var/tmp"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    os.chmod(f"{root}/tmp", 0o1777)
    print("\n".join(sorted(wanted)))


if __name__ == "__main__":
    main()
