//! Just enough RIFF/WAVE to check uploads, measure them and repair streamed headers.

/// What a WAV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    /// Bytes of sample data.
    pub data_len: u32,
}

impl WavInfo {
    /// How long it plays, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        let bytes_per_second = u64::from(self.sample_rate)
            * u64::from(self.channels)
            * u64::from(self.bits_per_sample / 8).max(1);
        if bytes_per_second == 0 {
            return 0;
        }
        u64::from(self.data_len) * 1000 / bytes_per_second
    }
}

/// Reads the format and the data chunk's length. A data length larger than the file
/// (as streaming writers leave it) counts as "up to the end of the file".
pub fn parse(bytes: &[u8]) -> Option<WavInfo> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut format = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?);
        let body = at + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            let u16_at = |o: usize| u16::from_le_bytes([bytes[body + o], bytes[body + o + 1]]);
            let audio_format = u16_at(0);
            // 1 = integer PCM, 3 = float, 0xFFFE = extensible.
            if !matches!(audio_format, 1 | 3 | 0xFFFE) {
                return None;
            }
            let rate = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().ok()?);
            format = Some((u16_at(2), rate, u16_at(14)));
        } else if id == b"data" {
            let (channels, sample_rate, bits_per_sample) = format?;
            let available = u32::try_from(bytes.len() - body).unwrap_or(u32::MAX);
            return Some(WavInfo {
                sample_rate,
                channels,
                bits_per_sample,
                data_len: size.min(available),
            });
        }
        // Chunks are padded to an even length.
        at = body.checked_add(usize::try_from(size).ok()?)? + (size as usize & 1);
    }
    None
}

/// Writes the true RIFF and data sizes into a WAV whose writer streamed it and could
/// not know them (espeak-ng's `--stdout` leaves 0x7FFFFFFF-ish placeholders).
pub fn fix_sizes(bytes: &mut [u8]) {
    if parse(bytes).is_none() {
        return;
    }
    let riff = u32::try_from(bytes.len() - 8).unwrap_or(u32::MAX);
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        if &bytes[at..at + 4] == b"data" {
            let data = u32::try_from(bytes.len() - at - 8).unwrap_or(u32::MAX);
            bytes[at + 4..at + 8].copy_from_slice(&data.to_le_bytes());
            return;
        }
        at += 8 + size as usize + (size as usize & 1);
    }
}

/// A mono 16-bit PCM WAV of `samples` at `sample_rate`, for tests and tools.
pub fn encode_pcm16(samples: &[i16], sample_rate: u32) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_wav_reads_back_with_its_duration() {
        let wav = encode_pcm16(&vec![0i16; 16_000 * 3 / 2], 16_000);
        let info = parse(&wav).unwrap();
        assert_eq!(info.sample_rate, 16_000);
        assert_eq!(info.channels, 1);
        assert_eq!(info.duration_ms(), 1_500);
    }

    #[test]
    fn streamed_placeholder_sizes_are_repaired() {
        let mut wav = encode_pcm16(&[1, 2, 3, 4], 22_050);
        wav[4..8].copy_from_slice(&0x7FFF_F024u32.to_le_bytes());
        wav[40..44].copy_from_slice(&0x7FFF_F000u32.to_le_bytes());
        assert_eq!(parse(&wav).unwrap().data_len, 8, "clamped to the file");
        fix_sizes(&mut wav);
        assert_eq!(&wav[4..8], &(wav.len() as u32 - 8).to_le_bytes());
        assert_eq!(&wav[40..44], &8u32.to_le_bytes());
    }

    #[test]
    fn other_files_are_not_wav() {
        assert_eq!(parse(b"OggS\0\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(parse(b"RIFF"), None);
        assert_eq!(parse(&[0u8; 100]), None);
    }
}

/// Properties: what an upload may hold (anything) and what a writer makes (read back).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// A header with any format values, any extra chunk before the data, and any
    /// declared data size, over `data`.
    fn header(
        channels: u16,
        rate: u32,
        bits: u16,
        extra: &[u8],
        declared: u32,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        out.extend_from_slice(&16u32.to_le_bytes());
        for field in [1u16, channels] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&rate.wrapping_mul(2).to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"LIST");
        out.extend_from_slice(&u32::try_from(extra.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(extra);
        if extra.len() % 2 == 1 {
            out.push(0);
        }
        out.extend_from_slice(b"data");
        out.extend_from_slice(&declared.to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    proptest! {
        #[test]
        fn any_upload_is_read_or_refused_without_panicking(
            mut bytes in prop::collection::vec(any::<u8>(), 0..512),
            riff in any::<bool>(),
        ) {
            if riff && bytes.len() >= 12 {
                bytes[..4].copy_from_slice(b"RIFF");
                bytes[8..12].copy_from_slice(b"WAVE");
            }
            if let Some(info) = parse(&bytes) {
                prop_assert!(info.data_len as usize <= bytes.len());
                let _ = info.duration_ms();
            }
            let before = bytes.len();
            fix_sizes(&mut bytes);
            prop_assert_eq!(bytes.len(), before);
        }

        #[test]
        fn a_header_reads_back_with_the_data_it_really_has(
            channels in any::<u16>(),
            rate in any::<u32>(),
            bits in any::<u16>(),
            extra in prop::collection::vec(any::<u8>(), 0..40),
            declared in any::<u32>(),
            data in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut wav = header(channels, rate, bits, &extra, declared, &data);
            let info = parse(&wav).unwrap();
            prop_assert_eq!((info.channels, info.sample_rate, info.bits_per_sample), (channels, rate, bits));
            prop_assert_eq!(info.data_len as usize, (declared as usize).min(data.len()));
            // A streamed header's sizes are repaired to what the file holds.
            fix_sizes(&mut wav);
            prop_assert_eq!(parse(&wav).map(|i| i.data_len as usize), Some(data.len()));
            prop_assert_eq!(&wav[4..8], &u32::try_from(wav.len() - 8).unwrap_or(0).to_le_bytes());
        }

        #[test]
        fn what_this_module_writes_it_reads(
            samples in prop::collection::vec(any::<i16>(), 0..2000),
            rate in 1u32..200_000,
        ) {
            let info = parse(&encode_pcm16(&samples, rate));
            prop_assert_eq!(
                info.map(|i| (i.sample_rate, i.channels, i.bits_per_sample, i.data_len as usize)),
                Some((rate, 1, 16, samples.len() * 2))
            );
        }
    }
}
