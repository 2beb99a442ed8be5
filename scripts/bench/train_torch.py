#!/usr/bin/env python3
"""PyTorch reference for `instclf train` timings: the same seed model (n_feat -> Dense(256,
sigmoid) -> Dense(n_class) + softmax cross-entropy, Adam lr 0.001, eps 1e-7, batch 128,
per-epoch shuffling, validation on the test split), reading the same .npy dataset folder.
Prints one JSON object: threads, per-epoch times, best/mean epoch time, final accuracies.

usage: train_torch.py DATA_DIR [--epochs 10] [--threads N] [--batch-size 128] [--hidden 256]
                       [--activation sigmoid|relu] [--device cpu|cuda]
With --device cuda the rows live on the GPU (as instclf's do), and each epoch's time ends with
torch.cuda.synchronize() (PyTorch eager mode, no torch.compile, no CUDA graphs).
"""
import argparse
import json
import os
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="0 = PyTorch default")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--activation", choices=["sigmoid", "relu"], default="sigmoid")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    load = lambda n: np.load(os.path.join(a.data, n))
    xtr, ytr = load("uiowa_train_data.npy").astype(np.float32), load("uiowa_train_labels.npy").astype(np.int64)
    xte, yte = load("uiowa_test_data.npy").astype(np.float32), load("uiowa_test_labels.npy").astype(np.int64)
    mean, std = xtr.mean(axis=0), xtr.std(axis=0)
    std[std == 0] = 1.0
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    n_classes = int(max(ytr.max(), yte.max())) + 1
    xtr, ytr, xte, yte = (torch.from_numpy(v).to(dev) for v in (xtr, ytr, xte, yte))
    act = torch.nn.Sigmoid() if a.activation == "sigmoid" else torch.nn.ReLU()
    model = torch.nn.Sequential(
        torch.nn.Linear(xtr.shape[1], a.hidden), act, torch.nn.Linear(a.hidden, n_classes)
    ).to(dev)
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    n, bs = xtr.shape[0], a.batch_size
    times, hist = [], []
    for epoch in range(a.epochs):
        sync()
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, device=dev)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        for s in range(0, n, bs):
            idx = perm[s : s + bs]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(1) == yb).sum()
        model.eval()
        with torch.no_grad():
            lv = model(xte)
            val_loss = loss_fn(lv, yte).item()
            val_acc = (lv.argmax(1) == yte).float().mean().item()
        sync()
        dt = time.perf_counter() - t0
        times.append(dt)
        hist.append(
            {"epoch": epoch + 1, "loss": loss_sum.item() / n, "accuracy": correct.item() / n,
             "val_loss": val_loss, "val_accuracy": val_acc, "time_s": dt}
        )
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "device": str(dev), "threads": torch.get_num_threads(),
        "epochs": a.epochs, "best_epoch_s": min(times), "mean_epoch_s": sum(times) / len(times),
        "val_accuracy": hist[-1]["val_accuracy"], "history": hist,
    }))


if __name__ == "__main__":
    main()
