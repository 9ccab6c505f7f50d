"""Assisted labelling that needs no pretrained model and no download: a scribble classifier, marker watershed,
superpixels and the region review queue. Pure numpy/OpenCV/scikit-image/scikit-learn, no Qt; the editor tools in
gui/editor/assist*.py run these on worker threads. See docs/ARCHITECTURE.md, "Assisted labelling"."""
