"""Recording a panel's animation as a GIF or an MP4 (File ▸ Record…, ``adamlab record``).

``animation`` the protocol each panel's ``animate.py`` follows; ``recorder`` drives it, grabs frames on the GUI
thread and feeds them to an encoder thread; ``encode`` the GIF (Pillow) and MP4 (imageio-ffmpeg) writers, no Qt;
``dialog`` the Record dialog.
"""
