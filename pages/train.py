"""Train: start a training run with chosen hyperparameters (or fine-tune a stored model on
the "my digits" set), follow it live, cancel it. A run too short to learn is said so before
it starts (and starts only when asked again); a model far below a useful accuracy is said so
when it lands, and is not made active from here.

The run is a background process (digitclf.jobs), so this page, the other pages and other
browser sessions stay responsive; this page only polls the run's progress once a second."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from dashboard import charts
from dashboard.common import friendly_errors, page_setup, percent, sentence, store, use_model
from digitclf.errors import DigitclfError
from digitclf.store.card import ModelCard
from digitclf.training import jobs, mydigits
from digitclf.training.config import (
    ARCHITECTURE_NAMES,
    OPTIMIZERS,
    PRESETS,
    SCHEDULES,
    config_for,
    too_small_to_learn,
)

page_setup("pages/train.py")

JOB_KEY = "train_job"  # session state: the run this session started or is following
PENDING_KEY = "train_pending"  # session state: a run too short to learn, waiting for "Start anyway"
SCRATCH = "(train from scratch)"
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
MAX_SUBSET = 50_000


def _default_name(preset: str) -> str:
    taken = set(store().names())
    stem = time.strftime(f"{preset}-%m%d-%H%M")
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    return name


def _form() -> None:
    preset = st.segmented_control("Preset", list(PRESETS), default="fast", key="train_preset",
                                  help="The starting hyperparameters: fast is a small convnet "
                                       "(about a minute per epoch), best the shipped VGG-style "
                                       "network with handwriting augmentation.") or "fast"
    cfg = PRESETS[preset]
    k = f"train_{preset}_"  # each preset keeps its own form values
    names = store().names()
    my_count = len(mydigits.files())
    # Outside the form, so that the strength slider in the form follows it at once.
    augment = st.checkbox("Augmentation", cfg.augment, key=k + "augment",
                          help="Random rotation, slant, scale, shift and stroke width.")
    with st.form("train_form", border=True):
        if k + "name" not in st.session_state:  # a fresh, free name once per form
            st.session_state[k + "name"] = _default_name(preset)
        name = st.text_input("Model name", key=k + "name",
                             max_chars=64, help="Letters, digits, '-' and '_'.")
        c1, c2 = st.columns(2)
        architecture = c1.selectbox("Architecture", ARCHITECTURE_NAMES, key=k + "architecture",
                                    index=ARCHITECTURE_NAMES.index(cfg.architecture),
                                    help="mlp: dense 512-512 · cnn: small, quick convnet · slim: "
                                         "4-conv VGG-style (the default) · vgg: 6-conv (most "
                                         "accurate, 3.5x slower to run). Fine-tuning keeps the "
                                         "base model's architecture.")
        epochs = c2.number_input("Epochs", 1, 200, cfg.epochs, key=k + "epochs")
        c1, c2 = st.columns(2)
        batch_size = c1.selectbox("Batch size", BATCH_SIZES, key=k + "batch_size",
                                  index=BATCH_SIZES.index(cfg.batch_size)
                                  if cfg.batch_size in BATCH_SIZES else 3)
        learning_rate = c2.number_input("Learning rate (peak)", 1e-5, 1.0, cfg.learning_rate,
                                        step=1e-4, format="%.5f", key=k + "learning_rate")
        strength = st.slider("Augmentation strength", 0.0, 2.0, float(cfg.augment_strength),
                             0.1, key=k + "augment_strength", disabled=not augment,
                             help="How far augmentation warps the images; used only with "
                                  "augmentation (above the form).")
        c1, c2 = st.columns(2)
        subset = c1.number_input("Training examples (0 = all)", 0, MAX_SUBSET,
                                 cfg.train_subset or 0, step=500, key=k + "train_subset",
                                 help="Train on a random subset, for a quick try (at least 100).")
        seed = c2.number_input("Seed", 0, 2**31 - 1, cfg.seed, key=k + "seed")
        with st.expander("More hyperparameters"):
            c1, c2 = st.columns(2)
            schedule = c1.selectbox("Learning-rate schedule", SCHEDULES, key=k + "schedule",
                                    index=SCHEDULES.index(cfg.schedule))
            optimizer = c2.selectbox("Optimizer", OPTIMIZERS, key=k + "optimizer",
                                     index=OPTIMIZERS.index(cfg.optimizer))
            c1, c2 = st.columns(2)
            weight_decay = c1.number_input("Weight decay (adamw)", 0.0, 0.5, cfg.weight_decay,
                                           step=1e-4, format="%.4f", key=k + "weight_decay")
            smoothing = c2.number_input("Label smoothing", 0.0, 0.5, cfg.label_smoothing,
                                        step=0.01, key=k + "label_smoothing")
            c1, c2 = st.columns(2)
            val_fraction = c1.number_input("Validation fraction", 0.01, 0.49,
                                           float(round(cfg.val_fraction, 4)), step=0.01,
                                           key=k + "val_fraction")
            patience = c2.number_input("Early-stopping patience (0 = off)", 0, 100,
                                       cfg.patience or 0, key=k + "patience")
        st.markdown("**Fine-tuning**")
        c1, c2 = st.columns(2)
        base = c1.selectbox("Start from", [SCRATCH, *names], key=k + "base_model",
                            help="Continue training a stored model's weights.")
        my_digits = c2.checkbox(f"Add my digits ({my_count})", False, key=k + "my_digits",
                                disabled=my_count == 0,
                                help="Add the drawings you corrected on the Draw page to the "
                                     "training data (repeated so that they count).")
        c1, c2 = st.columns(2)
        activate = c1.checkbox("Make it the active model", False, key=k + "activate")
        overwrite = c2.checkbox("Overwrite if it exists", False, key=k + "overwrite")
        submitted = st.form_submit_button("Start training", type="primary",
                                          icon=":material/play_arrow:")
    if not submitted:
        return
    hyperparameters = dict(
        architecture=architecture, epochs=int(epochs), batch_size=int(batch_size),
        learning_rate=float(learning_rate), augment=bool(augment),
        augment_strength=float(strength), train_subset=int(subset) or None, seed=int(seed),
        schedule=schedule, optimizer=optimizer, weight_decay=float(weight_decay),
        label_smoothing=float(smoothing), val_fraction=float(val_fraction),
        patience=int(patience) or None, base_model=None if base == SCRATCH else base,
        my_digits=bool(my_digits),
    )
    request = dict(name=name.strip(), preset=preset, activate=bool(activate), overwrite=bool(overwrite),
                   hyperparameters=hyperparameters)
    st.session_state.pop(PENDING_KEY, None)
    try:
        warning = too_small_to_learn(config_for(preset, **hyperparameters))
        if warning is None:
            _launch(request)
    except DigitclfError as e:
        st.error(sentence(e), icon=":material/error:")
        return
    if warning is None:
        st.rerun()
    st.session_state[PENDING_KEY] = {**request, "warning": warning}


def _launch(request: dict[str, Any]) -> None:
    """Start the run the form asked for; the form's name is then refreshed for the next one."""
    job = jobs.start(request["name"], request["preset"], activate=request["activate"],
                     overwrite=request["overwrite"], **request["hyperparameters"])
    st.session_state[JOB_KEY] = job.id
    st.session_state.pop(f"train_{request['preset']}_name", None)


def _pending() -> None:
    """A run too short to learn: why, and a button to start it all the same."""
    pending = st.session_state.get(PENDING_KEY)
    if pending is None:
        return
    st.warning(f"Too small to learn: {sentence(pending['warning'])}", icon=":material/warning:")
    st.button("Start anyway", key="start_anyway", icon=":material/play_arrow:", on_click=_start_pending)


def _start_pending() -> None:
    request = st.session_state.pop(PENDING_KEY, None)
    if request is not None:
        try:
            _launch(request)
        except DigitclfError as e:
            st.session_state["train_notice"] = sentence(e)


def _current_job() -> jobs.Job | None:
    """This session's run while it goes on, else any run going on (started from another
    session), else this session's last run."""
    mine = None
    job_id = st.session_state.get(JOB_KEY)
    if job_id:
        try:
            mine = jobs.get(job_id)
        except DigitclfError:
            st.session_state.pop(JOB_KEY, None)
    if mine is not None and jobs.status(mine).running:
        return mine
    for job in jobs.list_jobs():
        if jobs.status(job).running:
            return job
    return mine


def _cancel(job_id: str) -> None:
    try:
        jobs.cancel(jobs.get(job_id))
    except DigitclfError as e:
        st.session_state["train_notice"] = sentence(e)


def _progress_text(s: jobs.JobStatus) -> str:
    elapsed = time.time() - s.job.started_at
    if s.state == "starting":
        return f"Starting: loading TensorFlow and MNIST… ({elapsed:.0f} s)"
    if s.progress >= 1.0:
        return f"Evaluating on the test set and saving… ({elapsed:.0f} s)"
    text = f"Epoch {max(s.epoch, 1)}/{s.epochs} · step {s.step}/{s.steps}"
    if s.batches:
        logs = s.batches[-1][1]
        text += f" · loss {logs.get('loss', 0):.3f} · accuracy {percent(logs.get('accuracy'), 1)}"
    return text + f" ({elapsed:.0f} s)"


def _describe(job: jobs.Job) -> str:
    hp = job.hyperparameters
    parts = [f"preset {job.preset}"]
    for key in ("architecture", "epochs", "batch_size", "learning_rate", "train_subset"):
        if hp.get(key) is not None:
            parts.append(f"{key.replace('_', ' ')} {hp[key]}")
    if hp.get("base_model"):
        parts.append(f"from {hp['base_model']}")
    if hp.get("my_digits"):
        parts.append("with my digits")
    return ", ".join(parts)


@st.fragment(run_every=1.0)
def _live(job_id: str) -> None:
    """Redrawn every second while the run goes on; a full rerun once it is over."""
    with friendly_errors():
        job = jobs.get(job_id)
        s = jobs.status(job)
        if not s.running:
            st.rerun()
        st.markdown(f"**Training {job.name}** · {_describe(job)}")
        st.progress(s.progress, text=_progress_text(s))
        if s.batches or s.history:
            st.plotly_chart(charts.curves(s.history, s.batches), key="live_curves",
                            config={"displayModeBar": False})
        st.button("Cancel training", icon=":material/stop_circle:", key="cancel_training",
                  on_click=_cancel, args=(job_id,))


def _finished(s: jobs.JobStatus) -> None:
    job = s.job
    if s.state == "succeeded":
        try:
            card: ModelCard | None = store().card(job.name)
        except DigitclfError:  # deleted since
            card = None
        accuracy = card.test_accuracy if card and card.test_accuracy is not None else s.test_accuracy
        took = f" after {card.training_seconds:.0f} s" if card and card.training_seconds else ""
        st.success(f"Model **{job.name}** is in the store{took}: {percent(accuracy)} test "
                   "accuracy.", icon=":material/check_circle:")
        weak = card.accuracy_warning if card else None
        if weak:
            st.warning(f"**{job.name}** {weak}: it is kept, but is not fit to be the active model. "
                       "Train on more examples or for more epochs.", icon=":material/warning:")
        if card and card.history:
            st.plotly_chart(charts.curves(card.history), key="final_curves",
                            config={"displayModeBar": False})
        active = store().active_name() == job.name
        with st.container(horizontal=True):
            st.button("Make active", key="make_active_trained", disabled=active or bool(weak),
                      on_click=_activate, args=(job.name,), icon=":material/star:",
                      help=f"Not for a model that {weak}." if weak else
                      "Make it the store's active model (the default for everyone).")
            st.button("Use it here", key="use_trained", on_click=use_model, args=(job.name,),
                      icon=":material/swap_horiz:", help="Choose it in this session's sidebar.")
            st.page_link("pages/models.py", label="Compare on Models",
                         icon=":material/inventory_2:")
    elif s.state == "cancelled":
        st.warning(f"Training of **{job.name}** was cancelled: nothing was saved.",
                   icon=":material/cancel:")
    else:
        st.error(f"Training of **{job.name}** failed: {sentence(s.message)}",
                 icon=":material/error:")


def _activate(name: str) -> None:
    try:
        store().set_active(name)
        use_model(name)
    except DigitclfError as e:
        st.session_state["train_notice"] = sentence(e)


def main() -> None:
    st.header("Train a model")
    notice = st.session_state.pop("train_notice", None)
    if notice:
        st.warning(notice)
    left, right = st.columns([1, 1.2], gap="large")
    with left:
        _form()
        _pending()
    with right:
        st.subheader("Run")
        job = _current_job()
        if job is None:
            st.info("No training yet. Pick the hyperparameters and start one: it runs in the "
                    "background, the rest of the dashboard stays usable.",
                    icon=":material/model_training:")
            return
        s = jobs.status(job)
        if s.running:
            _live(job.id)
        else:
            _finished(s)


with friendly_errors():
    main()
