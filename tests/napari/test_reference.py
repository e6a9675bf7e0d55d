"""The widget's colour references: RGB layers the user brought give a run their lab's colours."""

from __future__ import annotations

import numpy as np

from napari_colorize import ColorizeConfig, colorize
from napari_colorize._napari._layers import TAG, widget_tag
from napari_colorize._napari._reference import read_references


def _pick(widget, *layers):
    section = widget._reference
    section.reset_choices()
    section._layers.value = list(layers)
    return section


def test_picker_offers_only_rgb_layers_the_user_brought(viewer_widget, colour_image, gray,
                                                        run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    slide = viewer.add_image(colour_image, name="lab slide", rgb=True)
    viewer.add_image(colour_image, name="read result", rgb=True,
                     metadata={TAG: {"made_by": "reader"}})  # a result read from disk
    viewer.add_image(colour_image, name="preview", rgb=True,
                     metadata=widget_tag("held-out after", "lab slide"))
    run_and_wait(widget)
    assert viewer.layers["g colorized"].rgb  # a result the widget made
    widget._reference.reset_choices()
    assert widget._reference._layers.choices == (slide,)
    # the same choices as the Tune section's references and the hint colours' layers
    widget._tune.reset_choices()
    assert widget._tune._refs.choices == (slide,)
    widget._hints._reference.reset_choices()
    assert widget._hints._reference.choices == (None, slide)
    # offered above the hints, first of the colour-adaptation tools
    assert widget.index(widget._reference) < widget.index(widget._hints)


def test_run_with_a_reference_takes_its_colours(qtbot, viewer_widget, colour_image, gray,
                                               notices, run_and_wait):
    viewer, widget = viewer_widget
    widget._device_combo.value = "cpu"
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    plain = np.asarray(viewer.layers["g colorized"].data).copy()
    assert "reference" not in viewer.layers["g colorized"].metadata[TAG]
    # a multiscale layer: its full-resolution level is the reference
    slide = viewer.add_image([colour_image, colour_image[::2, ::2]], name="lab slide",
                             rgb=True, multiscale=True)
    _pick(widget, slide)
    notices.clear()
    run_and_wait(widget)
    out = viewer.layers["g colorized"]
    assert not np.array_equal(out.data, plain)
    model = widget._models[("tiny", "cpu")]
    expected = colorize(gray, model, reference=[colour_image], config=ColorizeConfig(),
                        device="cpu")
    np.testing.assert_array_equal(out.data, expected.rgb)
    assert out.metadata[TAG]["reference"] == ["lab slide"]
    assert len(notices) == 1
    assert notices[0].startswith("Colorized 'g' in ")
    assert notices[0].endswith(" s with the colours of 'lab slide'.")

    second = viewer.add_image(colour_image[:, ::-1], name="slide 2", rgb=True)
    _pick(widget, slide, second)
    notices.clear()
    run_and_wait(widget)
    assert notices[0].endswith(" with the colours of 'lab slide' and 'slide 2'.")
    assert viewer.layers["g colorized"].metadata[TAG]["reference"] == ["lab slide", "slide 2"]


def test_gray_reference_is_one_notification_and_no_layer(qtbot, viewer_widget, gray, notices,
                                                         run_and_wait):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    flat = viewer.add_image(np.repeat(gray[..., None], 3, axis=-1), name="gray slide", rgb=True)
    _pick(widget, flat)
    before = [layer.name for layer in viewer.layers]
    run_and_wait(widget)
    assert len(notices) == 1
    assert notices[0].startswith("reference 'gray slide' is gray (median tissue chroma")
    assert "\n" not in notices[0]
    assert [layer.name for layer in viewer.layers] == before
    assert widget._run_button.enabled


def test_reference_stack_is_refused_before_running(viewer_widget, colour_image, gray, notices):
    viewer, widget = viewer_widget
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    stack = viewer.add_image(np.stack([colour_image] * 2), name="slides", rgb=True)
    _pick(widget, stack)
    assert widget._on_run() is None
    assert notices == ["Reference layer 'slides' is not a single 2-D RGB image: pick 2-D "
                       "colour layers as references."]


def test_channel_model_disables_the_picker(qtbot, viewer_widget, fraction_model_dir,
                                           colour_image, gray, notices, run_and_wait):
    viewer, widget = viewer_widget
    section = _pick(widget, viewer.add_image(colour_image, name="lab slide", rgb=True))
    assert section._layers.enabled
    widget._model_combo.reset_choices()
    widget._model_combo.value = "tiny-fractions"
    assert not section._layers.enabled
    assert "tiny-fractions predicts channels" in section._status.value
    assert "References need a colour model" in section._status.tooltip
    # a reference picked for a colour model is left out of a channel model's run
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    run_and_wait(widget)
    assert "g colorized" in viewer.layers
    assert notices[-1].startswith("Colorized 'g' in ")
    assert "colours of" not in notices[-1]
    widget._model_combo.value = "tiny"
    assert section._layers.enabled
    assert section._status.value == ""


def test_only_the_square_the_fit_uses_is_read(tiny_model_dir, colour_image):
    from napari_colorize.core.reference import MAX_SIDE, fit_reference
    from napari_colorize.core.tile_plan import resolve_config
    from napari_colorize.models.registry import load_model

    tall = np.concatenate([colour_image] * 8)[: MAX_SIDE + 101, :200]  # odd margin: centring
    (read,) = read_references([tall])
    assert read.shape == (MAX_SIDE, 200, 3)
    model = load_model("tiny", device="cpu")
    config = resolve_config(ColorizeConfig(device="cpu"), model)
    np.testing.assert_array_equal(fit_reference([read], model, config).table,
                                  fit_reference([tall], model, config).table)


def test_rerun_reuses_the_fitted_mapping(viewer_widget, colour_image, gray, run_and_wait,
                                         monkeypatch):
    import napari_colorize.core.reference as reference

    fits = []
    real = reference.fit_reference

    def counting(*args, **kwargs):
        fits.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reference, "fit_reference", counting)
    viewer, widget = viewer_widget
    widget._device_combo.value = "cpu"
    widget._layer_combo.value = viewer.add_image(gray, name="g")
    slide = viewer.add_image(colour_image, name="lab slide", rgb=True)
    _pick(widget, slide)
    run_and_wait(widget)
    first = np.asarray(viewer.layers["g colorized"].data).copy()
    run_and_wait(widget)  # e.g. a live re-run after a hint: same layers, model and settings
    assert len(fits) == 1
    np.testing.assert_array_equal(viewer.layers["g colorized"].data, first)
    other = viewer.add_image(colour_image[::-1].copy(), name="slide 2", rgb=True)
    _pick(widget, other)
    run_and_wait(widget)  # another reference: fitted afresh
    assert len(fits) == 2
