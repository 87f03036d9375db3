"""The typed-array codec between kernel and browser (dashwidgets/widgets/_codec.py): dtype and
shape travel with the buffer, and what a view cannot send is refused with its name."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

from dashwidgets.widgets._codec import (
    Array,
    array_from_json,
    array_to_json,
    narrow_to_json,
    wire_array,
)


class _Holder(traitlets.HasTraits):
    xy = Array("float32", (None, 2))
    label = Array("uint16")
    grids = Array("float32", (3, None, None))
    seen = traitlets.List()

    @traitlets.observe("xy")
    def _seen(self, change):
        self.seen = [*self.seen, change["new"].shape]


def test_serializer_sends_dtype_shape_and_the_raw_buffer():
    arr = np.arange(12, dtype=np.float32).reshape(6, 2)
    msg = array_to_json(arr)
    assert msg["dtype"] == "float32" and msg["shape"] == [6, 2]
    assert isinstance(msg["buffer"], memoryview) and msg["buffer"].nbytes == 6 * 2 * 4
    assert bytes(msg["buffer"]) == arr.tobytes()  # row-major, what the JS decoder reads
    back = array_from_json(msg)
    assert back.dtype == np.float32 and back.shape == (6, 2)
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize(
    ("dtype", "wire"),
    [(np.float64, "float32"), (np.int64, "int32"), (np.uint64, "uint32"), (bool, "uint8"),
     (np.uint16, "uint16"), (np.float32, "float32"), (np.int8, "int8")],
)
def test_serializer_narrows_64_bit_types_where_safe(dtype, wire):
    msg = array_to_json(np.array([0, 1, 1], dtype=dtype))
    assert msg["dtype"] == wire
    np.testing.assert_array_equal(array_from_json(msg), [0, 1, 1])


def test_serializer_makes_strided_views_contiguous():
    base = np.arange(20, dtype=np.float32).reshape(10, 2)
    view = base[::2]  # every other row: not contiguous
    assert not view.flags.c_contiguous
    msg = array_to_json(view)
    assert msg["shape"] == [5, 2]
    np.testing.assert_array_equal(np.frombuffer(msg["buffer"], np.float32).reshape(5, 2), view)
    fortran = np.asfortranarray(base)
    assert bytes(array_to_json(fortran)["buffer"]) == base.tobytes()


def test_serializer_refuses_objects_strings_raw_bytes_and_wide_integers():
    with pytest.raises(TypeError, match="numeric numpy array, got dtype object"):
        wire_array(np.array([1, "a"], dtype=object), "xy")
    with pytest.raises(TypeError, match="got dtype <U"):
        array_to_json(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="raw bytes"):
        array_to_json(b"\x00\x01")
    with pytest.raises(ValueError, match="outside the int32 range"):
        array_to_json(np.array([2**40], dtype=np.int64))
    with pytest.raises(TypeError, match="no browser typed array"):
        array_to_json(np.array([1.5], dtype=np.float16))


def test_trait_casts_to_its_dtype_and_keeps_a_contiguous_array():
    h = _Holder()
    assert h.xy.shape == (0, 2) and h.xy.dtype == np.float32  # empty default of the declared form
    h.xy = np.ones((4, 2), np.float64)[::-1]
    assert h.xy.dtype == np.float32 and h.xy.flags.c_contiguous and h.xy.shape == (4, 2)
    h.label = np.array([1, 2, 65535], dtype=np.int64)
    assert h.label.dtype == np.uint16 and h.label.tolist() == [1, 2, 65535]
    h.label = np.zeros(0)  # an empty array clears any trait
    assert h.label.shape == (0,)
    h.grids = np.zeros((3, 4, 4))
    assert h.grids.shape == (3, 4, 4)


def test_trait_refuses_wrong_shape_dtype_and_range_with_its_name():
    h = _Holder()
    with pytest.raises(traitlets.TraitError, match=r"_Holder.xy expects shape float32 \[\*, 2\], got float32 \[4, 3\]"):
        h.xy = np.zeros((4, 3), np.float32)
    with pytest.raises(traitlets.TraitError, match=r"grids expects shape float32 \[3, \*, \*\]"):
        h.grids = np.zeros((2, 4, 4))
    with pytest.raises(traitlets.TraitError, match="label values do not fit uint16"):
        h.label = np.array([70000])
    with pytest.raises(traitlets.TraitError, match="label expects integers"):
        h.label = np.array([1.5])
    with pytest.raises(traitlets.TraitError, match="numeric array"):
        h.label = np.array([None, 1], dtype=object)
    with pytest.raises(traitlets.TraitError, match="raw bytes"):
        h.label = b"\x01\x00"


def test_trait_notifies_when_the_values_change_and_only_then():
    h = _Holder()
    h.xy = np.zeros((2, 2))
    h.xy = np.zeros((2, 2))  # equal: no second event
    h.xy = np.ones((2, 2))
    h.xy = np.ones((3, 2))
    assert h.seen == [(2, 2), (2, 2), (3, 2)]
    h2 = _Holder()
    h2.xy = np.zeros((1, 2))  # one element equal to... nothing before: an event
    h2.xy = np.ones((1, 2))  # a one-element array still notifies (no truthiness shortcut)
    assert h2.seen == [(1, 2), (1, 2)]


def test_every_binary_trait_of_every_view_uses_the_codec():
    import dashwidgets.widgets as w

    for name in w.__all__:
        cls = getattr(w, name)
        if not isinstance(cls, type) or not issubclass(cls, traitlets.HasTraits):
            continue
        for tname, trait in cls.class_traits(sync=True).items():
            if isinstance(trait, traitlets.Bytes):
                # the one kind of raw bytes: a PNG thumbnail atlas ("atlas", or "<what>_atlas" in a
                # view that shows two: a subgroup and its pair, top images and concept patches)
                assert tname == "atlas" or tname.endswith("_atlas"), f"{name}.{tname} is raw bytes: use widgets._codec.Array"
            if isinstance(trait, Array):
                to_json = trait.metadata["to_json"]  # the codec, or its narrowing (class codes as uint8)
                assert to_json is array_to_json or getattr(to_json, "narrows_to", None) in ("uint8", "uint16"), f"{name}.{tname}"


def test_class_codes_travel_as_uint8_when_they_fit_and_read_back_the_same():
    to_json = narrow_to_json("uint8")
    codes = np.array([0, 7, 255], np.uint16)
    wire = to_json(codes)
    assert wire["dtype"] == "uint8" and wire["shape"] == [3] and memoryview(wire["buffer"]).nbytes == 3
    back = array_from_json(wire)
    assert back.tolist() == codes.tolist()
    wide = to_json(np.array([0, 256], np.uint16))  # 257 classes: stays uint16
    assert wide["dtype"] == "uint16" and array_from_json(wide).tolist() == [0, 256]
    assert to_json(np.zeros(0, np.uint16))["dtype"] == "uint8"
    with pytest.raises(ValueError, match="integer"):
        Array("float32", wire_narrow="uint8")


def test_a_narrowed_trait_keeps_its_dtype_in_python():
    class W(traitlets.HasTraits):
        codes = Array("uint16", wire_narrow="uint8")

    w = W(codes=np.array([1, 2], np.uint8))
    assert w.codes.dtype == np.uint16
    to_json = W.class_traits()["codes"].metadata["to_json"]
    assert to_json(w.codes)["dtype"] == "uint8"
    w.codes = W.class_traits()["codes"].metadata["from_json"](to_json(w.codes))  # a saved state read back
    assert w.codes.dtype == np.uint16 and w.codes.tolist() == [1, 2]
