//! `BoxWriter`: the one place where box and descriptor sizes are written.
//!
//! A box is opened with its size field reserved, its body is written by a closure, and the size
//! is patched when the closure returns. Nothing else in the crate computes a box size.

/// Appends ISOBMFF boxes (ISO/IEC 14496-12 4.2) to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct BoxWriter {
    buf: Vec<u8>,
}

/// A reserved 32-bit field, to be filled in with [`BoxWriter::patch_u32`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot(usize);

impl BoxWriter {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Writes a box of type `typ` whose body is what `body` writes.
    pub(crate) fn boxed(&mut self, typ: &[u8; 4], body: impl FnOnce(&mut Self)) {
        let start = self.buf.len();
        self.u32(0);
        self.bytes(typ);
        body(self);
        let size = self.buf.len() - start;
        // Boxes are bounded by the muxer's limits (MAX_FRAGMENT_BYTES), far below 4 GiB.
        debug_assert!(u32::try_from(size).is_ok(), "box larger than 4 GiB");
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        self.buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
    }

    /// Writes a full box (a box with a version and 24 bits of flags).
    pub(crate) fn full(
        &mut self,
        typ: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut Self),
    ) {
        self.boxed(typ, |w| {
            w.u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF));
            body(w);
        });
    }

    /// Writes an MPEG-4 descriptor (ISO/IEC 14496-1 7.2.2) with tag `tag`: its size is written
    /// in the four-byte form of the expandable length (as ffmpeg and GPAC do), so it can be
    /// patched in place.
    pub(crate) fn descriptor(&mut self, tag: u8, body: impl FnOnce(&mut Self)) {
        self.u8(tag);
        let start = self.buf.len();
        self.u32(0);
        body(self);
        // At most 2^28 - 1: descriptors here hold a few bytes of decoder configuration.
        let size = (self.buf.len() - start - 4).min(0x0FFF_FFFF) as u32;
        let encoded = [
            0x80 | (size >> 21) as u8 & 0x7F,
            0x80 | (size >> 14) as u8 & 0x7F,
            0x80 | (size >> 7) as u8 & 0x7F,
            size as u8 & 0x7F,
        ];
        self.buf[start..start + 4].copy_from_slice(&encoded);
    }

    /// Reserves a 32-bit field to be patched later (e.g. a `trun` data offset).
    pub(crate) fn reserve_u32(&mut self) -> Slot {
        let slot = Slot(self.buf.len());
        self.u32(0);
        slot
    }

    /// Fills in a reserved field.
    pub(crate) fn patch_u32(&mut self, slot: Slot, value: u32) {
        self.buf[slot.0..slot.0 + 4].copy_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sizes_are_patched() {
        let mut w = BoxWriter::default();
        w.boxed(b"moov", |w| {
            w.full(b"mvhd", 1, 0x000102, |w| w.u32(7));
            w.boxed(b"free", |_| {});
        });
        let v = w.into_vec();
        assert_eq!(
            v,
            [
                &[0, 0, 0, 32][..],
                b"moov",
                &[0, 0, 0, 16],
                b"mvhd",
                &[1, 0, 1, 2, 0, 0, 0, 7],
                &[0, 0, 0, 8],
                b"free",
            ]
            .concat()
        );
    }

    #[test]
    fn descriptor_lengths_use_four_bytes() {
        let mut w = BoxWriter::default();
        w.descriptor(3, |w| {
            w.u16(1);
            w.descriptor(5, |w| w.bytes(&[0x12, 0x10]));
        });
        assert_eq!(
            w.into_vec(),
            [
                3, 0x80, 0x80, 0x80, 9, 0, 1, 5, 0x80, 0x80, 0x80, 2, 0x12, 0x10
            ]
        );
        let mut w = BoxWriter::default();
        w.descriptor(4, |w| w.zeros(300));
        assert_eq!(&w.into_vec()[..5], &[4, 0x80, 0x80, 0x82, 0x2C]);
    }

    #[test]
    fn reserved_fields_are_patched() {
        let mut w = BoxWriter::default();
        let s = w.reserve_u32();
        w.u8(9);
        w.patch_u32(s, 0xDEAD_BEEF);
        assert_eq!(w.len(), 5);
        assert_eq!(w.into_vec(), [0xDE, 0xAD, 0xBE, 0xEF, 9]);
    }
}
