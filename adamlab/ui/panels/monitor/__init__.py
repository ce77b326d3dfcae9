"""The GPT monitor: train the tiny GPT live and look inside it.

    panel.py      MonitorPanel — the coordinator: buttons, the run list, files, what the window asks of a panel
    setup.py      SetupBox — the left column: corpus, model, optimizer, schedule, batch → a plain run config
    runs.py       RunView — the GUI side of one run (its worker, latest snapshot, plot items); the signal relay
    curves.py     LossPlot — the loss curves, the lr axis, knob and divergence markers
    inspector.py  the tabs: per-tensor g/w/u table, heatmaps, Adam's state histograms, samples
    job.py        RunJob — a core Trainer as a steppable job, built and stepped in the run's child process
                  (Qt-free: the child imports it)
    shot.py       the README screenshot, made from the real window offscreen

Nothing is imported here: the run's child process imports ``job`` and must not load Qt on the way.
"""
