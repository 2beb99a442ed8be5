# The bundled model's recipe, in one place: sourced by scripts/train-default-model.sh (which makes
# the bundle) and scripts/crossval.sh (whose default is to validate it). Chosen by
# leave-one-source-out (README, "Accuracy on sample sets it never heard").
# `dataset build` options: 2 augmented copies, half-weight CMN, the levels of 20 partials.
BUNDLED_BUILD="--augment 2 --cmn --cmn-weight 0.5 --harmonics 20"
# `train` options of every network.
BUNDLED_TRAIN="--epochs 10"
