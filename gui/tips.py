"""Every control's tooltip, in one table: what the control does, with its formula where it has one.

:data:`TIPS` is keyed by objectName: a widget's (``learningRate``), or an action's
(``action_start``), whose text is also its status-bar tip. A button that does what an action does
(:data:`BUTTON_ACTIONS`) shows that action's tip and its shortcut, so the two never disagree and a
shortcut is written down only in the action table. :func:`apply_tips` puts them on a window or a
dialog once it is built; the panels set no static tooltips of their own.
"""

from __future__ import annotations

import textwrap

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from backprop_lab.gui.actions import shortcut_text

#: Width of a tooltip line in characters (Qt does not wrap a plain-text tooltip by itself).
TIP_WIDTH = 72


def formula(text: str) -> str:
    """``text`` with non-breaking spaces, so that a tooltip's line break never splits it."""
    return text.replace(" ", "\N{NO-BREAK SPACE}")


_UPDATE = formula("θ ← θ − λ·∂L/∂θ")
_STEPS = formula("epochs × ⌈samples / batch size⌉")

TIPS: dict[str, str] = {
    # Training settings (the training panel).
    "learningRate": (
        f"Learning rate λ. Each step moves every weight θ of A, B and C by {_UPDATE}, with ∂L/∂θ the "
        "mean gradient over the mini-batch. Any number > 0, e.g. 1e-9."
    ),
    "batchSize": (
        "Batch size: samples per step; the step uses the mean of their gradients. The last batch of "
        f"an epoch holds what is left, so an epoch is {formula('⌈samples / batch size⌉')} steps."
    ),
    "nSamples": (
        f"Samples: the training inputs, each of x's K entries drawn uniformly from {formula('[0, 1)')} "
        "with the training seed."
    ),
    "epochs": f"Epochs: passes over the samples, each in a fresh seeded order. A run takes {_STEPS} steps.",
    "seed": (
        "Training seed (0 to 2⁶³ − 1): draws the samples and their order in every epoch. "
        "The same seed and settings give the same run."
    ),
    "action_quit": "Close the window (asking first about unsaved changes).",
    "action_about": "What Backprop Lab is: the report's model and what the window does with it.",
    # The model's controls (the model panel).
    "kValue": (
        "K, the number of units: x is 1×K and A, B, C are K×K. Entries that exist at both sizes are "
        "kept; new ones are drawn as Randomize would draw them (its seed and range). One undo step; "
        "the training history starts anew (undo brings it back)."
    ),
    "randomSeed": (
        "Seed for Randomize and for the new entries when K grows: the same seed gives the same model."
    ),
    "randomLow": formula(
        "Randomize draws every entry uniformly from [low, high): this is low (−1 at first, as File ▸ New)."
    ),
    "randomHigh": formula(
        "Randomize draws every entry uniformly from [low, high): this is high (1 at first, as File ▸ New)."
    ),
    "action_randomize": (
        f"Replace x, A, B and C with entries drawn uniformly from {formula('[low, high)')} "
        "(the model panel's range) with its seed. One undo step."
    ),
    "action_report_example": (
        "The report example (K = 3): the report's x, A, B and C, whose gradients it derives by hand, "
        "replacing the model, in the report's variant (sigmoid, row vectors, no target). One undo step."
    ),
    "action_reset": "Back to the model the training history began from; clears the history. One undo step.",
    "action_k_up": (
        "One more unit, K + 1: the new entries are drawn as Randomize would draw them. The training "
        "history starts anew (undo brings it back)."
    ),
    "action_k_down": (
        "One unit fewer, K − 1: the last entry of x and the last row and column of A, B, C go. The "
        "training history starts anew (undo brings it back)."
    ),
    "action_variant": (
        "Choose the member of the family: the activation σ (sigmoid, tanh, relu, softplus, identity), "
        f"row vectors ({formula('a = xA')}) or column vectors ({formula('a = Ax')}), and a target t "
        f"({formula('L = Σ (w_j − t_j)²')}) or none. One undo step; the training history starts anew "
        "(undo brings it back)."
    ),
    # Training (the training panel's buttons show these too).
    "action_start": f"Train from the current weights: {_STEPS} mini-batch steps of {_UPDATE}.",
    "action_pause": "Pause the run (the editors show its current weights), or resume it.",
    "action_step": (
        f"Exactly one mini-batch step of {_UPDATE}, then pause (from idle it begins a paused run)."
    ),
    "action_stop": "End the run, keeping the steps taken; the run is one undo step.",
    # The live plot.
    "action_log_y": "Logarithmic value axis (ticks at powers of 10): a run's loss spans decades.",
    "action_auto_range": (
        "Fit the plot to all the data; the view then follows new steps until you pan or zoom."
    ),
    "smoothing": (
        f"Smoothing weight β of TensorBoard's debiased moving average: {formula('s ← β·s + (1 − β)·v')}, "
        f"shown as {formula('s / (1 − βⁿ)')} after n values. The raw curve stays faint behind it."
    ),
    "plotCurve": (
        "All curves of this session, or one curve for every run ticked in the runs list, each in "
        "its run's colour."
    ),
    "plotX": (
        "x axis: the step, the epoch (fractional within one) or the samples seen (the inputs whose "
        "gradients the steps averaged)."
    ),
    # The runs list.
    "runsList": (
        "This session, its segments (each Start) and the runs compared with it (other session "
        "files, a sweep's runs). Tick a run to draw it; Ctrl+drop files here to compare them."
    ),
    "removeRun": "Stop comparing the selected runs (their files stay as they are).",
    # The loss along the gradient.
    "lineSearchSpan": (
        f"How far along −g to look: t from 0 to this many learning rates in {formula('L(θ − t·g)')}."
    ),
    # The verification tab.
    "verifyLive": "Check the gradients again whenever the model changes.",
    "verifyTorch": (
        "Also compare with PyTorch's autograd in float64. Imports PyTorch the first time (a few "
        "seconds); optional: pip install 'backprop-lab[torch]'."
    ),
    "verifySweep": (
        "Plot the largest finite-difference error for eps from 1e-1 down to 1e-12: truncation error "
        "falls as eps² to the right of the minimum, round-off rises as 1/eps to its left."
    ),
    # File ▸ New.
    "newK": "K, the number of units: x is 1×K and A, B, C are K×K.",
    "newSeed": "Seed of the random draw: the same K and seed give the same weights.",
    # Training ▸ Sweep….
    "sweepLearningRates": (
        "Learning rates to try, separated by commas or spaces (0.001, 0.01, 0.1). The session's one "
        "value alone is not swept."
    ),
    "sweepBatchSizes": "Batch sizes to try (1, 10, 100); every combination with the other lists is one run.",
    "sweepSeeds": "Training seeds to try: the same settings with other samples and orders (the spread).",
    "sweepEpochs": "Numbers of epochs to try; a run takes epochs × ⌈samples / batch size⌉ steps.",
    "sweepJobs": "Runs trained at once, each in its own process (one per core is the fastest).",
    "sweepFolder": (
        "Where each run is written as <name>.bpl.json, with summary.csv, summary.svg and summary.png; "
        "other files there are left alone, and files of the same names are replaced only after asking."
    ),
    "sweepCancel": "Stop the running runs and drop them; the runs that finished stay, with their summary.",
}

#: Buttons that do what an action does (button objectName → action id): they show its tip and shortcut.
BUTTON_ACTIONS: dict[str, str] = {
    "randomizeButton": "randomize",
    "reportExampleButton": "report_example",
    "resetButton": "reset",
    "variantButton": "variant",
    "startButton": "start",
    "pauseButton": "pause",
    "stepButton": "step",
    "stopButton": "stop",
    "logY": "log_y",
    "autoRange": "auto_range",
    "addRun": "add_run",
    "verifyButton": "verify_now",
}


def _wrapped(text: str) -> str:
    return textwrap.fill(text, TIP_WIDTH, break_on_hyphens=False, break_long_words=False)


def _with_shortcut(text: str, action: QAction) -> str:
    keys = shortcut_text(action)
    return f"{text} ({keys})" if keys else text


def apply_tips(root: QObject) -> None:
    """Set the tooltip of every widget and action under ``root`` that :data:`TIPS` or
    :data:`BUTTON_ACTIONS` names (an action's status tip too). Names not found are skipped: a dialog
    holds only some of them."""
    for name, text in TIPS.items():
        for obj in root.findChildren(QObject, name):
            if isinstance(obj, QAction):
                obj.setStatusTip(text.replace("\N{NO-BREAK SPACE}", " "))
                obj.setToolTip(_wrapped(_with_shortcut(text, obj)))
            elif isinstance(obj, QWidget):
                obj.setToolTip(_wrapped(text))
    for button, action_id in BUTTON_ACTIONS.items():
        action = root.findChild(QAction, f"action_{action_id}")
        if action is None:
            continue
        text = TIPS.get(f"action_{action_id}") or action.statusTip() or action.text()
        for widget in root.findChildren(QWidget, button):
            widget.setToolTip(_wrapped(_with_shortcut(text, action)))
