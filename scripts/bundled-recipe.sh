# The bundled model's recipe, in one place: sourced by scripts/train-default-model.sh (which makes
# the bundle) and scripts/crossval.sh (whose default is to validate it). Chosen by
# leave-one-source-out (README, "Accuracy on sample sets it never heard"; docs/experiments.md).
# Frame networks. `dataset build` options: 2 augmented copies, half-weight CMN, the levels of 20
# partials.
BUNDLED_BUILD="--augment 2 --cmn --cmn-weight 0.5 --harmonics 20"
# `train` options of every frame network, and their activations (one network each).
BUNDLED_TRAIN="--epochs 10"
BUNDLED_ACTIVATIONS="sigmoid relu"
# Note-level networks: each note's frames (MFCCs + deltas, 20 partial levels, its pitch) pooled
# into mean, standard deviation and attack; 6 augmented copies; no CMN, so a note's answer does
# not depend on the other notes of its recording.
BUNDLED_NOTE_BUILD="--augment 6 --harmonics 20 --pitch --note-stats"
BUNDLED_NOTE_TRAIN="--epochs 15 --input-dropout 0.2 --label-smoothing 0.1 --mixup 0.4"
# One network per activation and seed: four note-level networks beside two frame ones, which
# gives the note-level side two thirds of the ensemble's vote.
BUNDLED_NOTE_ACTIVATIONS="sigmoid relu"
BUNDLED_NOTE_SEEDS=2
