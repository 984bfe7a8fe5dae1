"""The training job: the handler for kind "garage.train_bc", a thin wrapper around
training.bc.train.train (which also runs outside Celery, from the command line).

The model's status follows its job through `receivers.model_follows_its_job`: a cancel (train()
raises `simulator.stopping.Stopped`) or any failure leaves the job cancelled or failed, and the
model with it; only a finished run is published here, which makes the model ready."""

from __future__ import annotations

from webapp.datasets.services import training_directories

from . import services
from .models import TrainedModel

#: Share of the bar the training loop fills; exporting and publishing take the rest.
TRAIN_SHARE = 94.0


def _eta(seconds) -> str:
    if seconds is None:
        return "measuring…"  # until a few batches after the first (compilation) are timed
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def record_epoch(history: dict, epoch: int, logs: dict) -> dict:
    """`history` ({"loss": [...], "val_loss": [...], ...}) with epoch `epoch`'s (1-based) logs in
    place: a re-run epoch replaces its row and drops any later one (a resumed run)."""
    updated = {}
    for key in set(history) | set(logs):
        values = list(history.get(key, []))[:epoch - 1]
        values += [None] * (epoch - 1 - len(values))
        if key in logs:
            values.append(logs[key])
        updated[key] = values
    return updated


def progress_callback(reporter, model: TrainedModel | None = None):
    """on_progress for train(): epoch, batch, loss, val_loss, speed and ETA become the job's live
    metrics; each finished epoch's logs go to `model.history`, which the model page charts live."""

    def on_progress(event: dict) -> None:
        if event.get("phase") == "done":
            reporter.progress(TRAIN_SHARE + 3, "Exported; publishing artifacts", eta="0s", force=True,
                              val_loss=round(event["val_loss"], 5) if event.get("val_loss") is not None else "…")
            return
        if model is not None and event.get("epoch_logs"):
            model.history = record_epoch(model.history or {}, event["epoch"], event["epoch_logs"])
            TrainedModel.objects.filter(pk=model.pk).update(history=model.history)
        metrics = {
            "epoch": f"{event['epoch']} / {event['epochs']}",
            "batch": f"{event['batch']} / {event['batches']}",
            "loss": round(event["loss"], 5) if event.get("loss") is not None else "…",
            "val_loss": round(event["val_loss"], 5) if event.get("val_loss") is not None else "…",
            "eta": _eta(event.get("eta_s")),
        }
        if event.get("batches_per_s"):
            metrics["speed"] = f"{event['batches_per_s']:.1f} batches/s"
        message = f"Epoch {event['epoch']} of {event['epochs']}, batch {event['batch']} of {event['batches']}"
        if event.get("percent", 0) >= 100:
            message = "Training done; exporting TFLite, plots and heat maps"
        reporter.progress(TRAIN_SHARE * event.get("percent", 0) / 100.0, message,
                          force=event.get("phase") == "epoch_end", **metrics)

    return on_progress


def final_metrics(history: dict, kept_epoch: int, epochs_completed: int, val_loss: float) -> dict:
    """The job card's metrics once training is done: each loss names the epoch it is from. The
    live "loss" was the last epoch's while "val_loss" is the kept epoch's (restore-best), shown
    side by side without a word; both now speak of the kept epoch, and the last epoch's losses
    are added, labelled, when it is another one."""

    def at(key: str, epoch: int):
        values = history.get(key) or []
        value = values[epoch - 1] if 0 < epoch <= len(values) else None
        return None if value is None else f"{value:.5f}"

    kept = f"epoch {kept_epoch}, kept"
    metrics = {"epoch": f"{epochs_completed} / {epochs_completed}",
               "loss": f"{at('loss', kept_epoch) or '—'} ({kept})",
               "val_loss": f"{val_loss:.5f} ({kept})",
               "kept_epoch": f"{kept_epoch} of {epochs_completed}"}
    if epochs_completed and epochs_completed != kept_epoch:
        last = f"epoch {epochs_completed}, the last"
        metrics["last epoch loss"] = f"{at('loss', epochs_completed) or '—'} ({last})"
        metrics["last epoch val_loss"] = f"{at('val_loss', epochs_completed) or '—'} ({last})"
    return metrics


def train_model(job, reporter) -> dict:
    from training.bc.callbacks import load_checkpoint_state
    from training.bc.config import TrainConfig
    from training.bc.train import train

    model = TrainedModel.objects.select_related("team").get(pk=job.params["model_id"], team=job.team)
    out_dir = services.run_dir(model)
    config = TrainConfig.from_dict({**model.config, "inception_weights": services.resolve_weights(model)})
    directories = training_directories(
        list(model.datasets.all()), out_dir / "training_set",
        model.options.get("recovery_mode", "include"), int(model.options.get("recovery_weight", 1)))
    if (out_dir / "checkpoint").is_dir():
        reporter.log("Resuming from the last epoch checkpoint")
    state = load_checkpoint_state(out_dir)
    model.history = dict(state["history"]) if state else {}
    TrainedModel.objects.filter(pk=model.pk).update(history=model.history)
    reporter.progress(0.5, "Indexing frames and building the model", force=True)
    result = train(directories, config, out_dir, on_progress=progress_callback(reporter, model),
                   should_stop=reporter.cancel_requested, cache_dir=services.bottleneck_cache_dir(model))
    reporter.log(f"{result.epochs_completed} epochs (resumed from {result.resumed_from_epoch}); "
                 f"val_loss {result.metrics['val_loss']:.5f}")
    services.publish(model, result)
    # The model keeps the best epoch's weights (restore-best), so val_loss is that epoch's.
    reporter.progress(100, f"Ready: val_loss {model.metrics['val_loss']:.4f} of epoch {result.best_epoch}, "
                           "the epoch kept", force=True,
                      **final_metrics(model.history or {}, result.best_epoch, result.epochs_completed,
                                      model.metrics["val_loss"]))
    return {"model_id": model.pk, "metrics": model.metrics}
