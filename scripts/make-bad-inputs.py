#!/usr/bin/env python3
"""Generates the hostile-input catalogue in fixtures/bad/ (issue 8), deterministically.

    python3 scripts/make-bad-inputs.py            # rewrites fixtures/bad/

Standard library only. Every file is small (a few KiB at most) and the same bytes come out on
every run (fixed seeds, no timestamps). Besides the files it writes fixtures/bad/cases.tsv, the
manifest that tests/it/bad_input.rs drives through the `instclf` binary, one case per line:

    name <TAB> argv <TAB> fragment <TAB> names <TAB> setup

- argv: the command line after `instclf`, tokens separated by single spaces (no token holds a
  space). Placeholders: {bad} = fixtures/bad, {tmp} = a fresh empty folder per case,
  {audio} = a good committed recording, {data} = fixtures/bad/data/good (a good dataset),
  {model} = fixtures/bad/models/good (a good model for that dataset).
- fragment: text the one-line error on stderr must contain (the problem).
- names: text the error must also contain (the file or option at fault), `-` for none.
- setup: `-`, or what the test prepares in {tmp} before running: `unreadable` (a copy of a good
  recording at {tmp}/locked.aiff with mode 000), `readonly` (a folder {tmp}/ro with mode 555),
  `dir_as_file` (a folder {tmp}/folder.wav).

Every case expects exit code 2, no panic text and {tmp} left exactly as set up (no output file,
complete or partial).
"""

import base64
import json
import os
import random
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "bad")

CASES = []


def case(name, argv, fragment, names="-", setup="-"):
    assert "\t" not in argv + fragment + names
    assert not any(c[0] == name for c in CASES), name
    CASES.append((name, argv, fragment, names, setup))


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def rand_bytes(seed, n):
    r = random.Random(seed)
    return bytes(r.getrandbits(8) for _ in range(n))


# --- audio -------------------------------------------------------------------------------------


def ext80(v):
    """IEEE 754 80-bit extended big-endian bytes of a float (AIFF sample rates)."""
    if v != v:  # NaN: all-ones exponent, quiet-NaN mantissa
        return struct.pack(">HQ", 0x7FFF, 0xC000000000000000)
    if v == 0:
        return bytes(10)
    e = 0
    m = float(v)
    while m >= 2.0:
        m /= 2.0
        e += 1
    while m < 1.0:
        m *= 2.0
        e -= 1
    return struct.pack(">HQ", e + 16383, int(m * (1 << 63)))


def chunk(cid, body, size=None):
    size = len(body) if size is None else size
    pad = b"\0" if len(body) % 2 else b""
    return cid + struct.pack(">I", size) + body + pad


def comm(channels, frames, bits, rate, compression=None):
    body = struct.pack(">hIh", channels, frames, bits) + ext80(rate)
    if compression is not None:
        name = b"\x0bnot a codec"
        body += compression + name
    return chunk(b"COMM", body)


def ssnd(data, size=None):
    body = struct.pack(">II", 0, 0) + data
    return chunk(b"SSND", body, None if size is None else size + 8)


def form(kind, chunks, size=None):
    body = kind + b"".join(chunks)
    return b"FORM" + struct.pack(">I", len(body) if size is None else size) + body


def pcm16_be(n, seed=1):
    r = random.Random(seed)
    return b"".join(struct.pack(">h", r.randint(-8000, 8000)) for _ in range(n))


def wav(channels, rate, bits, fmt, data, data_size=None, fmt_size=16, riff_size=None):
    block = channels * bits // 8
    body = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    out = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + body
    out += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    return b"RIFF" + struct.pack("<I", len(out) if riff_size is None else riff_size) + out


def audio_cases():
    good = form(b"AIFF", [comm(1, 400, 16, 22050), ssnd(pcm16_be(400))])
    conv = "convert {bad}/audio/%s -o {tmp}/out.wav"

    def a(name, data, fragment, cmd=conv):
        write("audio/" + name, data)
        case(
            "audio_" + name.replace(".", "_"),
            cmd % name,
            fragment,
            "{bad}/audio/" + name,
        )

    a("empty.wav", b"", "file is empty")
    a("random.wav", rand_bytes(1, 4096), "not a recognised audio file")
    a("random.aiff", rand_bytes(2, 4096), "not a recognised audio file")
    a("random.flac", b"fLaC" + rand_bytes(3, 2048), "audio")
    a("random.mp3", rand_bytes(4, 4096), "not a recognised audio file")
    a("random.ogg", b"OggS" + rand_bytes(5, 2048), "audio")
    a("truncated_header.aiff", good[:30], "truncated or corrupt audio")
    # The SSND chunk declares 400 frames of 16-bit audio; the file ends after one byte of them.
    # (A file cut short after some whole frames decodes what is there, like libsndfile.)
    a(
        "truncated_data.aiff",
        form(b"AIFF", [comm(1, 400, 16, 22050), ssnd(pcm16_be(400))])[: 12 + 26 + 16 + 1],
        "truncated or corrupt audio",
    )
    a(
        "comm_0_channels.aiff",
        form(b"AIFF", [comm(0, 400, 16, 22050), ssnd(pcm16_be(400))]),
        "channels",
    )
    a(
        "comm_0_hz.aiff",
        form(b"AIFF", [comm(1, 400, 16, 0), ssnd(pcm16_be(400))]),
        "sample rate",
    )
    a(
        "comm_1e12_hz.aiff",
        form(b"AIFF", [comm(1, 400, 16, 1e12), ssnd(pcm16_be(400))]),
        "sample rate",
    )
    a(
        "comm_nan_hz.aiff",
        form(b"AIFF", [comm(1, 400, 16, float("nan")), ssnd(pcm16_be(400))]),
        "sample rate",
    )
    a(
        "comm_bits_0.aiff",
        form(b"AIFF", [comm(1, 400, 0, 22050), ssnd(pcm16_be(400))]),
        "audio",
    )
    # A COMM chunk that says it is 2 GB long in a 900-byte file.
    big_comm = b"COMM" + struct.pack(">I", 0x7FFFFFF0) + comm(1, 400, 16, 22050)[8:]
    a(
        "chunk_larger_than_file.aiff",
        form(b"AIFF", [big_comm, ssnd(pcm16_be(400))]),
        "audio",
    )
    # FORM size larger than the file, SSND declaring 4 GB with only its header present.
    a(
        "ssnd_4gb.aiff",
        form(b"AIFF", [comm(1, 0x7FFFFFFF, 16, 22050), ssnd(b"", size=0xFFFFFFF0)], size=0xFFFFFFF0),
        "audio",
    )
    a(
        "aifc_unsupported_compression.aifc",
        form(b"AIFC", [chunk(b"FVER", struct.pack(">I", 0xA2805140)),
                       comm(1, 400, 16, 22050, compression=b"XYZ1"), ssnd(pcm16_be(400))]),
        "unsupported",
    )
    a("no_comm.aiff", form(b"AIFF", [ssnd(pcm16_be(400))]), "audio")
    # WAV: a data chunk of 4 GB declared (RIFF size to match), less than one frame present.
    a("data_4gb.wav", wav(1, 22050, 16, 1, b"\x01", data_size=0xFFFFFF00, riff_size=0xFFFFFF24),
      "truncated or corrupt audio")
    a("fmt_larger_than_file.wav", wav(1, 22050, 16, 1, bytes(800), fmt_size=0x7FFFFFF0), "audio")
    a("wav_0_channels.wav", wav(0, 22050, 16, 1, bytes(800)), "channels")
    a("wav_codec_0x1234.wav", wav(1, 22050, 16, 0x1234, bytes(800)), "unsupported")
    nan = b"".join(struct.pack("<f", v) for v in [0.1, float("nan"), 0.2, float("inf")] * 50)
    a("nan_samples.wav", wav(1, 22050, 32, 3, nan), "NaN or infinite")
    a("header_only.wav", wav(1, 22050, 16, 1, b""), "audio")
    # The same bad files through the other commands that decode.
    case("classify_random_wav", "classify {bad}/audio/random.wav", "not a recognised audio file",
         "{bad}/audio/random.wav")
    case("features_empty_wav", "features {bad}/audio/empty.wav --kind mfcc -o {tmp}/f.npy",
         "file is empty", "{bad}/audio/empty.wav")
    case("spectrogram_nan_aiff", "spectrogram {bad}/audio/comm_nan_hz.aiff -o {tmp}/s.png",
         "sample rate", "{bad}/audio/comm_nan_hz.aiff")
    case("segment_truncated_aiff", "segment {bad}/audio/truncated_header.aiff",
         "truncated or corrupt audio", "{bad}/audio/truncated_header.aiff")
    # Paths.
    case("missing_path", "convert {bad}/audio/does-not-exist.wav -o {tmp}/out.wav",
         "No such file", "{bad}/audio/does-not-exist.wav")
    case("directory_as_file", "convert {tmp}/folder.wav -o {tmp}/out.wav", "is a directory",
         "{tmp}/folder.wav", setup="dir_as_file")
    case("no_read_permission", "convert {tmp}/locked.aiff -o {tmp}/out.wav", "Permission denied",
         "{tmp}/locked.aiff", setup="unreadable")
    # Missing parent folders of an output are created; where they cannot be, the error names it.
    case("output_in_missing_dir", "convert {audio} -o {tmp}/ro/missing/out.wav",
         "cannot create output file", "{tmp}/ro/missing/out.wav", setup="readonly")
    case("output_in_readonly_dir", "convert {audio} -o {tmp}/ro/out.wav",
         "cannot create output file", "{tmp}/ro/out.wav", setup="readonly")
    case("features_output_in_missing_dir",
         "features {audio} --kind mel -o {tmp}/ro/missing/f.npy", "{tmp}/ro/missing/f.npy", "-",
         setup="readonly")


# --- npy and datasets --------------------------------------------------------------------------


def npy_header(descr, shape, fortran=False, version=1):
    shape_s = "(%s,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape))
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape_s)
    pre = 10 if version == 1 else 12
    while (pre + len(d) + 1) % 64:
        d += " "
    d += "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(d)) + d.encode()


def npy_f4(rows):
    shape = (len(rows), len(rows[0]))
    return npy_header("<f4", shape) + b"".join(struct.pack("<f", v) for r in rows for v in r)


def npy_i8(vals):
    return npy_header("<i8", (len(vals),)) + b"".join(struct.pack("<q", v) for v in vals)


TRAIN_X = [[0.1 * i, 1.0 - 0.1 * i, (i % 3) * 0.5] for i in range(8)]
TRAIN_Y = [i % 2 for i in range(8)]
TEST_X = [[0.05 * i, 0.5, 0.25 * (i % 2)] for i in range(4)]
TEST_Y = [0, 1, 0, 1]


def dataset(rel, **override):
    files = {
        "uiowa_train_data.npy": npy_f4(TRAIN_X),
        "uiowa_train_labels.npy": npy_i8(TRAIN_Y),
        "uiowa_test_data.npy": npy_f4(TEST_X),
        "uiowa_test_labels.npy": npy_i8(TEST_Y),
    }
    for k, v in override.items():
        files[k.replace("__", ".")] = v
    for name, data in files.items():
        if data is not None:
            write("data/%s/%s" % (rel, name), data)


def data_cases():
    dataset("good")
    train = "train --data {bad}/data/%s -o {tmp}/model --epochs 1 --quiet"

    def d(name, fragment, file="uiowa_train_data.npy", cmd=train, **override):
        dataset(name, **override)
        case("data_" + name, cmd % name, fragment, "{bad}/data/%s/%s" % (name, file))

    x = "uiowa_train_data__npy"
    d("random_npy", "not a .npy file", **{x: rand_bytes(6, 1024)})
    d("empty_npy", "not a .npy file", **{x: b""})
    d("wrong_magic", "not a .npy file", **{x: b"\x93NUMPZ" + npy_f4(TRAIN_X)[6:]})
    huge = b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{'descr': '<f4'"
    d("huge_header_length", "header length", **{x: huge})
    d("header_garbage", "cannot parse the .npy header",
      **{x: b"\x93NUMPY\x01\x00\x76\x00" + b"{'descr': <f4 ((((((((".ljust(117) + b"\n"})
    # Found by fuzzing (fuzz/fuzz_targets/npy.rs): nested braces made the header parser
    # backtrack for more than 10 s.
    d("nested_header", "brackets nested", **{x: base64.b64decode(
        "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0Jywge3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7"
        "e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7eydmb3J0cmFuX29yZGVyJzogRmFsc2UAAAAAAAAAACc6"
        "ICgxMDAwMDAwLCAxMDAwMAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAA/////////wkAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAA==")})
    # Found by fuzzing too: 59 `[` behind backslash escapes in a string (over 12 s).
    d("nested_in_string_header", "brackets nested", **{x: base64.b64decode(
        "k05VTVBZAQB2AHsnZGVzY3InOiBbKCdhJyx7J2Rlc2NyJzogJzwnLCAnY1xcXFxcXHMAAAAAAAAAXFxcXFxcXFxc"
        "XFwnZGVzY3InOltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb"
        "W1tbIFsoJ2EnLCAnPGZcNCcpLCAoYidcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXFxcXGJcXFwsaTcnLCAnZSwgJ3No"
        "YXBlJzogKDQsKS0tLS0tLS0tLS0tLTAtLS0tLS0tLS0tLS0tLS0tLS26urq6urq6urq6urq6urq6urq6urq6urq6"
        "urq6urq6urq6urq6T7q6ugAAAAAAAA==")})
    d("object_dtype", "|O", **{x: npy_header("|O", (8, 3)) + bytes(8 * 3 * 8)})
    d("complex_dtype", "<c8", **{x: npy_header("<c8", (8, 3)) + bytes(8 * 3 * 8)})
    d("structured_dtype", "structured arrays are not supported",
      **{x: b"\x93NUMPY\x01\x00\x76\x00" + (
          "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (8,), }"
          .ljust(117) + "\n").encode() + bytes(64)})
    d("three_d", "expected a 2-D feature matrix", **{x: npy_header("<f4", (2, 4, 3)) + bytes(96)})
    d("shape_vs_bytes", "does not match the 96 data bytes",
      **{x: npy_header("<f4", (1000000, 1000000)) + bytes(96)})
    d("int_features", "unsupported feature dtype <i4",
      **{x: npy_header("<i4", (8, 3)) + bytes(96)})
    d("labels_longer_than_data", "has 9 labels but uiowa_train_data.npy has 8 rows",
      file="uiowa_train_labels.npy", **{"uiowa_train_labels__npy": npy_i8(TRAIN_Y + [0])})
    d("labels_float", "unsupported label dtype <f8", file="uiowa_train_labels.npy",
      **{"uiowa_train_labels__npy": npy_header("<f8", (8,)) + bytes(64)})
    d("labels_2d", "expected a 1-D label vector", file="uiowa_train_labels.npy",
      **{"uiowa_train_labels__npy": npy_header("<i8", (8, 1)) + bytes(64)})
    d("label_negative", "label -1 at row 3", file="uiowa_train_labels.npy",
      **{"uiowa_train_labels__npy": npy_i8([0, 1, 0, -1, 0, 1, 0, 1])})
    # A label of 10^18 without classes.json would mean 10^18 classes: refused, not allocated.
    d("label_huge", "label 1000000000000000000 at row 2", file="uiowa_train_labels.npy",
      **{"uiowa_train_labels__npy": npy_i8([0, 1, 10**18, 1, 0, 1, 0, 1])})
    nan_x = [r[:] for r in TRAIN_X]
    nan_x[5][1] = float("nan")
    d("nan_features", "row 5 column 1 is NaN", **{x: npy_f4(nan_x)})
    inf_x = [r[:] for r in TEST_X]
    inf_x[2][0] = float("inf")
    d("inf_test_features", "row 2 column 0 is inf", file="uiowa_test_data.npy",
      **{"uiowa_test_data__npy": npy_f4(inf_x)})
    d("test_columns", "has 2 feature columns", file="uiowa_test_data.npy",
      **{"uiowa_test_data__npy": npy_f4([r[:2] for r in TEST_X])})
    d("missing_test_labels", "No such file", file="uiowa_test_labels.npy",
      **{"uiowa_test_labels__npy": None})
    d("classes_not_json", "classes.json", file="classes.json",
      **{"classes__json": b"[\"a\", \"b\""})
    d("classes_not_array", "expected a JSON array of class names", file="classes.json",
      **{"classes__json": b"{\"a\": 1}"})
    d("classes_too_few", "outside 0..0", file="uiowa_train_labels.npy",
      **{"classes__json": b"[\"only\"]"})
    d("recipe_not_json", "recipe.json", file="recipe.json", **{"recipe__json": b"{n_fft: 0"})
    case("data_info_object_dtype", "dataset info {bad}/data/object_dtype", "|O",
         "{bad}/data/object_dtype/uiowa_train_data.npy")
    case("evaluate_nan_features", "evaluate --model {model} --data {bad}/data/nan_features",
         "is NaN", "{bad}/data/nan_features/uiowa_train_data.npy")
    case("data_folder_missing", train % "no-such-folder", "dataset folder not found",
         "{bad}/data/no-such-folder")


# --- model folders ---------------------------------------------------------------------------


def safetensors(tensors):
    header = {}
    off = 0
    blob = b""
    for name in sorted(tensors):
        shape, vals = tensors[name]
        data = b"".join(struct.pack("<f", v) for v in vals)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    while len(h) % 8:
        h += b" "
    return struct.pack("<Q", len(h)) + h + blob


def model_files(recipe=None, kernel_shape=(3, 4)):
    arch = {"n_features": 3, "hidden": [4], "n_classes": 2, "activation": "sigmoid"}
    mj = {
        "format": "instclf-model",
        "version": 1,
        "architecture": arch,
        "classes": ["0", "1"],
        "standardisation": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "training": None,
        "recipe": recipe,
        "history_summary": None,
    }
    r = random.Random(7)
    k0 = [round(r.uniform(-1, 1), 3) for _ in range(kernel_shape[0] * kernel_shape[1])]
    k1 = [round(r.uniform(-1, 1), 3) for _ in range(8)]
    st = safetensors({
        "dense0.kernel": (kernel_shape, k0),
        "dense0.bias": ((4,), [0.0] * 4),
        "dense1.kernel": ((4, 2), k1),
        "dense1.bias": ((2,), [0.0, 0.0]),
        "standardise.mean": ((3,), [0.0] * 3),
        "standardise.std": ((3,), [1.0] * 3),
    })
    return json.dumps(mj, indent=2).encode() + b"\n", st


def model_cases():
    def m(name, json_bytes, st_bytes, fragment, file, cmd=None):
        if json_bytes is not None:
            write("models/%s/model.json" % name, json_bytes)
        if st_bytes is not None:
            write("models/%s/model.safetensors" % name, st_bytes)
        if name == "good":
            return
        cmd = cmd or "evaluate --model {bad}/models/%s --data {data}" % name
        case("model_" + name, cmd, fragment, ("{bad}/models/%s/%s" % (name, file)).rstrip("/"))

    gj, gs = model_files()
    m("good", gj, gs, "", "")
    m("weights_missing", gj, None, "No such file", "model.safetensors")
    m("json_missing", None, gs, "No such file", "model.json")
    m("weights_wrong_shape", gj, model_files(kernel_shape=(3, 5))[1],
      "weight tensor 'dense0.kernel' has shape [3, 5], expected [3, 4]", "model.safetensors")
    m("weights_random", gj, rand_bytes(8, 512), "cannot read weights", "model.safetensors")
    m("weights_huge_header", gj, struct.pack("<Q", 1 << 62) + b"{}", "cannot read weights",
      "model.safetensors")
    m("weights_truncated", gj, gs[:-10], "cannot read weights", "model.safetensors")
    m("json_invalid", b"{\"format\": \"instclf-model\", \"version\": 1,", gs, "model.json",
      "model.json")
    m("json_wrong_format", gj.replace(b"instclf-model", b"keras"), gs,
      "format is 'keras'", "model.json")
    m("json_zero_features", gj.replace(b'"n_features": 3', b'"n_features": 0'), gs,
      "invalid architecture", "model.json")
    m("json_class_count", gj.replace(b'"1"\n', b'"1",\n    "2"\n'), gs,
      "3 class names for 2 outputs", "model.json")
    bad_recipe = {"sr": 22050, "n_fft": 0, "hop": 512, "n_mels": 128, "fmin": 0.0,
                  "fmax": None, "n_mfcc": 1, "deltas": True, "cmn": False}
    m("recipe_n_fft_0", model_files(recipe=bad_recipe)[0], gs, "n_fft must be between 2",
      "", cmd="classify {audio} --model {bad}/models/recipe_n_fft_0")
    huge_mels = dict(bad_recipe, n_fft=2048, n_mels=1000000000)
    m("recipe_n_mels_huge", model_files(recipe=huge_mels)[0], gs, "n_mels must be between 1 and",
      "", cmd="classify {audio} --model {bad}/models/recipe_n_mels_huge")
    huge_partials = dict(bad_recipe, n_fft=2048, harmonics=1000000000)
    m("recipe_harmonics_huge", model_files(recipe=huge_partials)[0], gs,
      "harmonics must be at most", "",
      cmd="classify {audio} --model {bad}/models/recipe_harmonics_huge")
    case("model_folder_is_file", "evaluate --model {bad}/models/good/model.json --data {data}",
         "model folder not found", "{bad}/models/good/model.json")
    case("plot_history_missing_model", "plot history {bad}/models/weights_missing -o {tmp}/h.png",
         "No such file", "{bad}/models/weights_missing")


# --- options -------------------------------------------------------------------------------------


def option_cases():
    t = "train --data {data} -o {tmp}/model --epochs 1 --quiet "
    case("opt_lr_abc", t + "--lr abc", "invalid value 'abc'", "--lr")
    case("opt_lr_zero", t + "--lr 0", "learning rate must be > 0", "-")
    case("opt_batch_size_0", t + "--batch-size 0", "batch size must be at least 1", "-")
    case("opt_epochs_0", t.replace("--epochs 1 ", "") + "--epochs 0", "epochs must be at least 1")
    case("opt_hidden_0", t + "--hidden 8,0", "hidden layer sizes must be > 0", "-")
    case("opt_validation_split_2", t + "--validation split:2", "invalid validation 'split:2'", "-")
    case("opt_threads_0", t + "--threads 0", "--threads must be at least 1", "-")
    case("opt_target_accuracy_2", t + "--target-accuracy 2", "--target-accuracy", "-")
    case("opt_top_abc", "classify {audio} --top abc", "invalid value 'abc'", "--top")
    case("opt_features_kind", "features {audio} --kind xyz -o {tmp}/f.npy", "xyz", "-")
    case("opt_convert_sr_0", "convert {audio} -o {tmp}/out.wav --sr 0", "0 Hz", "-")
    case("opt_convert_mp3_output", "convert {audio} -o {tmp}/out.mp3", "convert writes WAV only",
         "{tmp}/out.mp3")
    case("opt_spectrogram_n_mels_huge", "spectrogram {audio} -o {tmp}/s.png --n-mels 100000000",
         "--n-mels must be between 1 and", "-")
    case("opt_dataset_fmax_above_nyquist",
         "dataset build --audio {tmp} -o {tmp}/ds --fmax 30000",
         "fmax must be in (0, 11025] Hz, got 30000", "-")
    case("opt_dataset_harmonics_huge",
         "dataset build --audio {tmp} -o {tmp}/ds --harmonics 1000000",
         "harmonics must be at most 64, got 1000000", "-")
    case("opt_label_smoothing_1", t + "--label-smoothing 1", "label smoothing must be in [0, 1)",
         "-")
    case("opt_mixup_negative", t + "--mixup=-0.5", "mixup alpha must be in [0, 100]", "-")
    case("opt_dataset_n_mels_huge",
         "dataset build --audio {tmp} -o {tmp}/ds --n-mels 100000000",
         "n_mels must be between 1 and", "-")
    sw = "sweep --data {data} -o {tmp}/sweep --epochs 1 --quiet "
    case("sweep_shard_3_of_2", sw + "--shard 3/2", "invalid shard '3/2'", "--shard")
    case("sweep_shard_0_of_2", sw + "--shard 0/2", "invalid shard '0/2'", "--shard")
    case("sweep_lr_list_abc", sw + "--lr 0.1,abc", "'abc' is not a number", "--lr")
    case("sweep_batch_size_0", sw + "--lr 0.1,0.01 --batch-size 4,0",
         "a batch size must be at least 1", "--batch-size")
    case("sweep_data_nan", "sweep --data {bad}/data/nan_features -o {tmp}/sweep --epochs 1 --quiet",
         "is NaN", "{bad}/data/nan_features/uiowa_train_data.npy")


# --- recipe files (dataset build --recipe, train --recipe, bundle) ------------------------------


def recipe_cases():
    # One labelled recording: its dataset cannot be split into train and test.
    write("audio/one_class/Oboe.x.aiff", form(b"AIFF", [comm(1, 22050, 16, 22050),
                                                         ssnd(pcm16_be(22050))]))
    recipes = {
        "context_huge": ("[[member]]\nname = \"a\"\nfeatures = { context = 1000000 }\n",
                         "member 'a': features: context must be at most 16 frames, got 1000000"),
        "augment_lowpass_2": ("[[member]]\nname = \"a\"\naugment = { copies = 1, lowpass = 2 }\n",
                              "member 'a': augment.lowpass must be a probability in [0, 1], got 2"),
        "augment_stretch_13": ("[[member]]\nname = \"a\"\naugment = { copies = 1, stretch = 13 }\n",
                               "member 'a': augment.stretch must be between 0 and 12 semitones, got 13"),
        "unknown_setting": ("[[member]]\nname = \"a\"\nfeatures = { cmn_wieght = 0.5 }\n",
                            "member 'a': features: unknown setting 'cmn_wieght'"),
        "unknown_train_field": ("[[member]]\nname = \"a\"\n\n[member.train]\nepocs = 3\n",
                                "line 5: unknown field `epocs`"),
        "not_toml": ("[[member]\nname = a\n", "line 1:"),
        "no_member": ("[calibration]\ntemperature = 1.3\n", "no [[member]]"),
    }
    for name, (text, fragment) in recipes.items():
        write("recipes/%s.toml" % name, text.encode())
        case("recipe_" + name,
             "dataset build --audio {tmp} -o {tmp}/ds --recipe {bad}/recipes/%s.toml" % name,
             fragment, "{bad}/recipes/%s.toml" % name)
    write("recipes/two_members.toml",
          b"[[member]]\nname = \"frame\"\n\n[[member]]\nname = \"note\"\nfeatures = { pool = {} }\n")
    two = "{bad}/recipes/two_members.toml"
    case("recipe_member_not_chosen", "dataset build --audio {tmp} -o {tmp}/ds --recipe " + two,
         "the recipe has 2 members (frame, note): choose one with --member", two)
    case("recipe_member_missing",
         "train --data {data} -o {tmp}/model --quiet --recipe %s --member chord" % two,
         "no member named 'chord' (it has: frame, note)", two)
    case("recipe_missing_file", "dataset build --audio {tmp} -o {tmp}/ds --recipe {tmp}/none.toml",
         "cannot read the recipe", "{tmp}/none.toml")
    case("opt_recipe_and_feature_flag",
         "dataset build --audio {tmp} -o {tmp}/ds --recipe %s --cmn" % two,
         "cannot be used with", "--cmn")
    case("opt_recipe_and_training_flag",
         "train --data {data} -o {tmp}/model --recipe %s --member frame --epochs 3" % two,
         "cannot be used with", "--epochs")
    case("opt_member_without_recipe", "train --data {data} -o {tmp}/model --member frame",
         "the following required arguments were not provided", "--recipe")
    case("bundle_bad_recipe",
         "bundle --recipe {bad}/recipes/unknown_setting.toml --audio {tmp} -o {tmp}/b",
         "unknown setting 'cmn_wieght'", "{bad}/recipes/unknown_setting.toml")
    case("bundle_missing_audio_folder", "bundle --recipe %s --audio {tmp}/none -o {tmp}/b" % two,
         "no such folder", "{tmp}/none")
    case("bundle_audio_given_twice",
         "bundle --recipe %s --audio {bad}/audio/one_class --audio {bad}/audio/one_class -o {tmp}/b" % two,
         "the folder is given twice", "{bad}/audio/one_class")
    # Checked before anything is built: `random` is not a class of the --audio recordings.
    case("bundle_eval_label_not_a_class",
         "bundle --recipe %s --audio {bad}/audio/one_class --eval {bad}/audio -o {tmp}/b" % two,
         "is not one of the model's classes (Oboe)", "{bad}/audio/")
    case("bundle_empty_audio_folder", "bundle --recipe %s --audio {tmp} -o {tmp}/b" % two,
         "no audio files in this folder", "{tmp}")
    # The build fails after the work folder {tmp}/b.work was made: it is removed again.
    case("bundle_one_recording_per_class", "bundle --recipe %s --audio {bad}/audio/one_class -o {tmp}/b -q" % two,
         "class Oboe has 1 usable recording(s)", "-")


# --- evaluate --audio (labelled recordings) -------------------------------------------------------


def evaluate_audio_cases():
    case("evaluate_audio_empty_folder", "evaluate --audio {tmp}", "no audio files in this folder",
         "{tmp}")
    case("evaluate_audio_missing_folder", "evaluate --audio {tmp}/missing",
         "no such file or folder", "{tmp}/missing")
    # The folder of the good recording is `audio`, which is not one of the bundled classes.
    case("evaluate_audio_folder_label_not_a_class", "evaluate --audio {audio} --label-from folder",
         "its label 'audio' (--label-from folder) is not one of the model's classes", "{audio}")
    # Labels are checked before anything is decoded: the random bytes are never read as audio.
    case("evaluate_audio_name_label_not_a_class", "evaluate --audio {bad}/audio/random.wav",
         "its label 'random' (--label-from name) is not one of the model's classes",
         "{bad}/audio/random.wav")
    case("opt_evaluate_label_from", "evaluate --audio {audio} --label-from title",
         "invalid value 'title'", "--label-from")
    case("opt_evaluate_data_and_audio", "evaluate --model {model} --data {data} --audio {audio}",
         "cannot be used with", "--data")
    case("opt_evaluate_no_input", "evaluate --model {model}",
         "the following required arguments were not provided", "--data")
    case("opt_evaluate_data_two_models", "evaluate --model {model} --model {model} --data {data}",
         "--data evaluates exactly one model: give --model once (it was given 2 times)", "--model")
    case("opt_evaluate_data_no_model", "evaluate --data {data}",
         "--data evaluates exactly one model: give --model once (it was given 0 times)", "--model")
    case("opt_evaluate_label_from_with_data",
         "evaluate --model {model} --data {data} --label-from folder", "cannot be used with",
         "--label-from")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    audio_cases()
    data_cases()
    model_cases()
    option_cases()
    recipe_cases()
    evaluate_audio_cases()
    with open(os.path.join(OUT, "cases.tsv"), "w") as f:
        f.write("# name\targv\tfragment\tnames\tsetup  (generated by scripts/make-bad-inputs.py)\n")
        for c in CASES:
            f.write("\t".join(c) + "\n")
    print("%d cases, files in %s" % (len(CASES), os.path.relpath(OUT, ROOT)), file=sys.stderr)


if __name__ == "__main__":
    main()
