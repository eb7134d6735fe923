//! The `.npkg` container, zstd frame walker, codec adapter and CRC-32 of `numpack_core::package`
//! against independent references: zlib's CRC-32 definition, golden bytes (docs/FORMAT.md §7),
//! frames written by the reference zstd, and hand-made hostile packages and frames.
#![cfg(feature = "ruzstd")]

use std::collections::BTreeMap;

use numpack_core::package::{
    Compression, Entry, MAGIC, MAX_PATH_BYTES, Package, Ruzstd, VERSION, Writer, ZstdCodec,
    check_path, compress_with, crc32, decompress_with,
};
use numpack_core::{Error, Result};
use ruzstd::encoding::{CompressionLevel, compress_to_vec};

/// The zstd frame magic number.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// A whole package in memory from `(path, bytes)` pairs, compressed with [`Ruzstd`].
fn build(files: &[(&str, &[u8])], compression: Compression) -> Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new(), compression, files.len(), Ruzstd)?;
    for (path, data) in files {
        w.add(path, data)?;
    }
    w.finish()
}

/// `path → bytes` of a package, decoded with [`Ruzstd`], checksum verified.
fn decode(buf: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let files = Package::parse(buf)?.files_with(true, &Ruzstd)?;
    Ok(files
        .into_iter()
        .map(|(p, d)| (p.to_string(), d.into_owned()))
        .collect())
}

fn compress(data: &[u8]) -> Option<Vec<u8>> {
    compress_with(&Ruzstd, data)
}

fn decompress(frame: &[u8], original_size: u64) -> Result<Vec<u8>> {
    decompress_with(&Ruzstd, frame, original_size)
}

/// The bytes the reference zstd compressed for the fixtures below.
fn sample(n: usize) -> Vec<u8> {
    const WORDS: [&[u8]; 14] = [
        b"alpha",
        b"beta",
        b"gamma",
        b"delta",
        b"epsilon",
        b"zeta",
        b"eta",
        b"theta",
        b"iota",
        b"kappa",
        b" ",
        b"\n",
        b"0123",
        b"\x00\x01\x02",
    ];
    let (mut x, mut out) = (7u64, Vec::new());
    while out.len() < n {
        x = (x * 1_103_515_245 + 12_345) & 0x7FFF_FFFF;
        out.extend_from_slice(WORDS[((x >> 16) % 14) as usize]);
    }
    out.truncate(n);
    out
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// zstd frames of `sample(1200)` made by the reference zstd (python-zstandard 0.25):
// ZstdCompressor(level=3).compress (content size, single segment), the same with
// write_checksum=True, a level-3 stream_writer (upstream NumPack's framing: no content size,
// 2 MiB window) and level 19.
const ONE_SHOT: &str = concat!(
    "28b52ffd60b003050c0072481717a0a5e9680a4ed2a754e43b0f52557558cb8b7e552d2953567eb31b360d7d6ddb9a86",
    "a6a169e8c1496948431ab6766958bb34acc434ac071a5ef55743813010fc4a019cb0721afe8a38ff381ef0abe466377e",
    "4821809462c0ea57bf0a809da8d1a6942419f637200282903a2b0f10384ba6b6690c14e90084c591613938e9bc399e5f",
    "22c10f8e23c84b0236d4c8df2059a16bf850dc88ac032429e5366a92c15452d30cf66ab8d2691a6884740303b0b9c42b",
    "8bfe16d1662fd53d762b61a63fa102582450e2d2219aa99c34902ef0a36cef8110f33632899eabebf5b8191c0c2301ec",
    "fc3b54eaeff62ced418210108ec5ebcd42c5479a1ce18548aa741f3d4db6146e80f01507f2bd1917b5a1d227eb1659b3",
    "0722718c30644df86a8be2850134e453f1c59a8fb871efc1fc972d7636690b34e7e803342bec9adf6c4dd8d8c900e281",
    "a1bfb7bfdc5082511e60bcea6bf8cc99f73b7ea0d78018d0a57ba6730ef0b8c7a0272e10ca2c84815960e9594ed8bfc9",
    "e3306e5d7df0a3a55401",
);
const CHECKSUM: &str = concat!(
    "28b52ffd64b003050c0072481717a0a5e9680a4ed2a754e43b0f52557558cb8b7e552d2953567eb31b360d7d6ddb9a86",
    "a6a169e8c1496948431ab6766958bb34acc434ac071a5ef55743813010fc4a019cb0721afe8a38ff381ef0abe466377e",
    "4821809462c0ea57bf0a809da8d1a6942419f637200282903a2b0f10384ba6b6690c14e90084c591613938e9bc399e5f",
    "22c10f8e23c84b0236d4c8df2059a16bf850dc88ac032429e5366a92c15452d30cf66ab8d2691a6884740303b0b9c42b",
    "8bfe16d1662fd53d762b61a63fa102582450e2d2219aa99c34902ef0a36cef8110f33632899eabebf5b8191c0c2301ec",
    "fc3b54eaeff62ced418210108ec5ebcd42c5479a1ce18548aa741f3d4db6146e80f01507f2bd1917b5a1d227eb1659b3",
    "0722718c30644df86a8be2850134e453f1c59a8fb871efc1fc972d7636690b34e7e803342bec9adf6c4dd8d8c900e281",
    "a1bfb7bfdc5082511e60bcea6bf8cc99f73b7ea0d78018d0a57ba6730ef0b8c7a0272e10ca2c84815960e9594ed8bfc9",
    "e3306e5d7df0a3a55401e6d19d5b",
);
const STREAM: &str = concat!(
    "28b52ffd00587d0c00e24b20189025c903cb4d3582be1f04466424772fb4b51c765589440666f88db9e020f25a119221",
    "f2ee8ef78e1779c91089058f1561f3163d78ce8aacc88aee10df7ace8a8e0c916488244324e29121d28af4a0155d6bc1",
    "376fe16dbdb71632449221f2cdfb1e14e082196e456f15faad073f183ce0ade7c65cf0e615e061078cbef5ad018089a8",
    "912aa2496a1436e6204283143bf310108ba888d318a3025733715496198e1dc7e30d125beb09198264926d4219fc51c9",
    "fa4313561351c057ca26e4e800954cb364f696aec89a1f8d55e7c007bca9fdcac65f46da6f5caaf7c93cf34ea7f0a348",
    "ac7488e6cb710690423e1af60484f286e88fab7df51a5985fa303906c021075d756d7f693992108c20540c9bcbb8f881",
    "92835e4ce41eb226791d646f125eacfc6ec6f71325724289886bdd402d67843d6be2bbb7ba2f1de810a7c0ff351741ee",
    "dfabf92df577f8d42470ee143ad368be5ed317a3011fb8e9e242b1add46ef2da3de723723c070fc8d52126803536eb5c",
    "07409c5bc03088355b90b3ac819abb535970d8b5a6bf5905",
);
const LEVEL19: &str = concat!(
    "28b52ffd60b003ed0a00a2c61211a0ed98835ff8ee99ffdf9570fa412af607d2fd52be79776ddb75770fadf578ab5ded",
    "5d7bd7a9aef74446934fd331858c5397d0977417019ca645f7ef5d9da67a29df4e2383d1b1294f538098a8d1364d25c3",
    "de01208428c5cc3a204692236d5b3814333e226f35ca9448a65a986ece4682b94912a0e336a3c1d05433d204f6c93aa5",
    "a226936d43a4133173270168c73b1e6421790016daec8083a5714f51f14125da7b5e821626e9b7f2e560795cf822dc8e",
    "8c5a837ea521a5da1f2be7826548e4a8fae56ef7a40d248e6d2c1afc407dd82e51ef1729e2f6943abdc8067a4aa08d4f",
    "6765b5be4ae5efc8c04710aff0b0a66a9ab6efcb1b14a55305802381faba1935cd72283aaf84a04642e6f33ab0d32233",
    "832552626b7e1c8eba6e41e234f5faba5cf6a664a90c30a9f29d7c9acf331e0a10a8841c90cec1bb24510c08071182fa",
    "4c0267f11d20ba95afeceda99730e85dfdfc5775d5eba6",
);

fn is_corrupt<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(Error::Corrupt(_)))
}

/// A package by hand: `(path, original_size, compressed_size, payload)` entries.
fn raw_package(code: u8, entries: &[(&str, u64, u64, &[u8])], checksum: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(code);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (path, original, compressed, payload) in entries {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&original.to_le_bytes());
        out.extend_from_slice(&compressed.to_le_bytes());
        out.extend_from_slice(payload);
    }
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn chain(files: &[&[u8]]) -> u32 {
    files
        .iter()
        .fold(0, |c, f| crc32(c, &crc32(0, f).to_le_bytes()))
}

fn small_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("metadata.npkm", b"NPKB\x01\x00\x00\x00".to_vec()),
        ("data_a.npkd", sample(700)),
        ("data_b.npkd", vec![]),
        ("data_c_segments/seg_000000.npkd", vec![9; 40]),
    ]
}

fn refs<'a>(files: &'a [(&'static str, Vec<u8>)]) -> Vec<(&'static str, &'a [u8])> {
    files.iter().map(|(p, d)| (*p, d.as_slice())).collect()
}

#[test]
fn crc_matches_zlib() {
    assert_eq!(crc32(0, b""), 0);
    assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    let data = sample(1000);
    for cut in [0, 1, 7, 8, 9, 500, 999] {
        assert_eq!(crc32(crc32(0, &data[..cut]), &data[cut..]), crc32(0, &data));
    }
    // Against the bitwise definition on every tail length.
    for n in 0..40 {
        let mut c = !0u32;
        for &b in &data[..n] {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
        }
        assert_eq!(crc32(0, &data[..n]), !c, "{n}");
    }
}

#[test]
fn golden_bytes_of_an_uncompressed_package() {
    let pkg = build(
        &[("metadata.npkm", b"ab"), ("data_x.npkd", b"")],
        Compression::None,
    )
    .unwrap();
    let mut want = b"NPKG\x02\x00\x00\x00\x00\x02\x00\x00\x00".to_vec();
    want.extend_from_slice(b"\x0d\x00\x00\x00metadata.npkm\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00ab");
    want.extend_from_slice(b"\x0b\x00\x00\x00data_x.npkd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    want.extend_from_slice(&[0x1a, 0xae, 0x3a, 0xaf]); // docs/FORMAT.md §7
    assert_eq!(chain(&[b"ab", b""]).to_le_bytes(), [0x1a, 0xae, 0x3a, 0xaf]);
    assert_eq!(pkg, want);
}

#[test]
fn round_trip_both_compressions() {
    let files = small_files();
    for compression in [Compression::None, Compression::Zstd] {
        let pkg = build(&refs(&files), compression).unwrap();
        let parsed = Package::parse(&pkg).unwrap();
        assert_eq!(parsed.compression(), compression);
        assert_eq!(
            parsed.entries().iter().map(|e| e.path).collect::<Vec<_>>(),
            files.iter().map(|f| f.0).collect::<Vec<_>>()
        );
        // The text compresses, the tiny and empty files stay raw.
        let compressed: Vec<bool> = parsed.entries().iter().map(Entry::is_compressed).collect();
        assert_eq!(
            compressed,
            [
                false,
                compression == Compression::Zstd,
                false,
                compression == Compression::Zstd
            ]
        );
        let got = parsed.files_with(true, &Ruzstd).unwrap();
        for ((path, data), (want_path, want)) in got.iter().zip(&files) {
            assert_eq!((path, data.as_ref()), (want_path, want.as_slice()));
        }
        assert_eq!(decode(&pkg).unwrap().len(), files.len());
    }
    let empty = build(&[], Compression::Zstd).unwrap();
    assert!(decode(&empty).unwrap().is_empty());
}

#[test]
fn reads_frames_of_the_reference_zstd() {
    let want = sample(1200);
    for (name, hex) in [
        ("one-shot", ONE_SHOT),
        ("checksum", CHECKSUM),
        ("stream", STREAM),
        ("level 19", LEVEL19),
    ] {
        let frame = unhex(hex);
        assert_eq!(
            decompress(&frame, want.len() as u64).unwrap(),
            want,
            "{name}"
        );
        assert!(
            is_corrupt(decompress(&frame, want.len() as u64 - 1)),
            "{name}: one byte short"
        );
        assert!(
            is_corrupt(decompress(&frame, want.len() as u64 + 1)),
            "{name}: one byte long"
        );
        let pkg = raw_package(
            1,
            &[("data_t.npkd", want.len() as u64, frame.len() as u64, &frame)],
            chain(&[&want]),
        );
        assert_eq!(decode(&pkg).unwrap()["data_t.npkd"], want, "{name}");
    }
}

#[test]
fn our_frames_carry_the_content_size_and_decode() {
    for n in [1usize, 100, 1200, 300_000] {
        let data = sample(n);
        let Some(frame) = compress(&data) else {
            continue;
        };
        assert!(frame.len() < n);
        let descriptor = frame[4];
        assert_eq!(descriptor >> 6, 2, "4-byte content size");
        assert_eq!(
            u32::from_le_bytes(frame[6..10].try_into().unwrap()) as usize,
            n
        );
        assert_eq!(decompress(&frame, n as u64).unwrap(), data);
    }
    // Incompressible input is left raw; so is a big file whose sample does not shrink.
    let mut x = 1u64;
    let noise: Vec<u8> = (0..(5 << 20))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(compress(&noise[..1000]).is_none());
    assert!(compress(&noise).is_none());
    let mut zeros_then_noise = vec![0u8; 5 << 20];
    zeros_then_noise[..1 << 20].copy_from_slice(&noise[..1 << 20]);
    assert!(
        compress(&zeros_then_noise).is_some(),
        "the middle and end of the sample shrink"
    );
}

#[test]
fn every_truncation_is_a_typed_error() {
    for compression in [Compression::None, Compression::Zstd] {
        let pkg = build(&refs(&small_files()), compression).unwrap();
        for cut in 0..pkg.len() {
            assert!(is_corrupt(Package::parse(&pkg[..cut])), "cut {cut}");
            assert!(is_corrupt(decode(&pkg[..cut])), "cut {cut}");
        }
        let mut longer = pkg.clone();
        longer.push(0);
        assert!(is_corrupt(decode(&longer)));
    }
}

#[test]
fn every_bit_flip_is_an_error_or_yields_the_same_bytes() {
    let files = small_files();
    for compression in [Compression::None, Compression::Zstd] {
        let pkg = build(&refs(&files), compression).unwrap();
        let parsed = Package::parse(&pkg).unwrap();
        // Where a slice of the package lies in it.
        let span = |part: &[u8]| {
            let at = part.as_ptr() as usize - pkg.as_ptr() as usize;
            at..at + part.len()
        };
        // Byte ranges of the paths: a flip there renames a file (the checksum covers data only).
        let paths: Vec<std::ops::Range<usize>> = parsed
            .entries()
            .iter()
            .map(|e| span(e.path.as_bytes()))
            .collect();
        let payloads: Vec<std::ops::Range<usize>> =
            parsed.entries().iter().map(|e| span(e.payload)).collect();
        for i in 0..pkg.len() {
            for bit in 0..8 {
                let mut bad = pkg.clone();
                bad[i] ^= 1 << bit;
                match Package::parse(&bad) {
                    Err(err) => assert!(
                        matches!(err, Error::Corrupt(_)),
                        "byte {i} bit {bit}: {err}"
                    ),
                    Ok(p) => match p.files_with(true, &Ruzstd) {
                        Err(err) => {
                            assert!(
                                matches!(err, Error::Corrupt(_)),
                                "byte {i} bit {bit}: {err}"
                            );
                            let raw_payload = payloads
                                .iter()
                                .zip(parsed.entries())
                                .any(|(r, e)| r.contains(&i) && !e.is_compressed());
                            if raw_payload {
                                assert!(
                                    err.to_string().contains("checksum"),
                                    "byte {i} bit {bit}: {err}"
                                );
                            }
                        }
                        Ok(got) => {
                            // Only a renamed file, or a flip zstd ignores (a header bit that does
                            // not change the output), or the header's compression code 0 → 1.
                            for ((_, data), (_, want)) in got.iter().zip(&files) {
                                assert_eq!(
                                    data.as_ref(),
                                    want.as_slice(),
                                    "byte {i} bit {bit}: silent data change"
                                );
                            }
                            let in_path = paths.iter().any(|r| r.contains(&i));
                            let in_frame = payloads
                                .iter()
                                .zip(parsed.entries())
                                .any(|(r, e)| r.contains(&i) && e.is_compressed());
                            assert!(
                                in_path || in_frame || i == 8,
                                "byte {i} bit {bit} was accepted"
                            );
                        }
                    },
                }
            }
        }
    }
}

#[test]
fn header_fields_are_checked() {
    let good = build(&[("metadata.npkm", b"x")], Compression::None).unwrap();
    let with = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    for (what, bad) in [
        ("magic", with(0, b"NPKJ")),
        ("version", with(4, &1u32.to_le_bytes())),
        ("version", with(4, &3u32.to_le_bytes())),
        ("compression", with(8, &[2])),
        ("file count", with(9, &u32::MAX.to_le_bytes())),
        ("file count", with(9, &2u32.to_le_bytes())),
        ("path length", with(13, &u32::MAX.to_le_bytes())),
        ("original size", with(30, &u64::MAX.to_le_bytes())),
        (
            "compressed in a none package",
            with(38, &1u64.to_le_bytes()),
        ),
    ] {
        assert!(is_corrupt(Package::parse(&bad)), "{what}");
    }
    let not_utf8 = raw_package(0, &[("\u{ff}", 0, 0, b"")], 0);
    let idx = not_utf8.iter().position(|&b| b == 0xC3).unwrap();
    let mut not_utf8 = not_utf8;
    not_utf8[idx] = 0xFF;
    assert!(is_corrupt(Package::parse(&not_utf8)));
}

#[test]
fn hostile_paths_are_refused() {
    for path in [
        "",
        "/etc/passwd",
        "../escape.npkd",
        "data_a_segments/../../x",
        "..",
        ".",
        "./x",
        "a//b",
        "a/",
        "x\\..\\y",
        "C:\\x",
        "a\0b",
        "a\nb",
        "dir/file.npkd",
        "data_a_segments/sub/seg.npkd",
        "data_a_segments/..",
    ] {
        let pkg = raw_package(0, &[(path, 1, 0, b"x")], chain(&[b"x"]));
        assert!(is_corrupt(Package::parse(&pkg)), "{path:?}");
        assert!(check_path(path).is_err(), "{path:?}");
        assert!(
            matches!(
                build(&[(path, b"x")], Compression::None),
                Err(Error::InvalidArgument(_))
            ),
            "{path:?}"
        );
    }
    let long = "a".repeat(MAX_PATH_BYTES + 1);
    assert!(is_corrupt(Package::parse(&raw_package(
        0,
        &[(&long, 0, 0, b"")],
        chain(&[b""])
    ))));
    let msg = Package::parse(&raw_package(0, &[("../x", 1, 0, b"x")], 0))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("leave the store folder"), "{msg}");
    for path in [
        "metadata.npkm",
        "data_a_segments/seg_000001.npkd",
        ".numpack.lock",
        "data_é.npkd",
    ] {
        assert!(check_path(path).is_ok(), "{path:?}");
    }
    let dup = raw_package(
        0,
        &[("a", 1, 0, b"x"), ("a", 1, 0, b"x")],
        chain(&[b"x", b"x"]),
    );
    assert!(is_corrupt(Package::parse(&dup)));
    assert!(matches!(
        build(&[("a", b"x"), ("a", b"y")], Compression::None),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn zstd_bombs_and_lies_are_refused() {
    // 16 MiB of zeros is ~0.5 KiB of RLE blocks: declared as 1000 bytes it must stop early.
    let zeros = vec![0u8; 16 << 20];
    let frame = compress(&zeros).unwrap();
    assert!(frame.len() < 1024);
    let err = decompress(&frame, 1000).unwrap_err().to_string();
    assert!(
        err.contains("more than the declared") || err.contains("declares"),
        "{err}"
    );
    let no_size = compress_to_vec(&zeros[..], CompressionLevel::Fastest);
    let err = decompress(&no_size, 1000).unwrap_err().to_string();
    assert!(err.contains("more than the declared"), "{err}");
    assert_eq!(decompress(&no_size, zeros.len() as u64).unwrap(), zeros);
    // A size no frame of this length can reach is refused before anything is allocated.
    let pkg = raw_package(
        1,
        &[("data_a.npkd", 1 << 40, frame.len() as u64, &frame)],
        0,
    );
    assert!(is_corrupt(Package::parse(&pkg)));
    assert!(is_corrupt(decompress(&frame, u64::MAX)));
    // A frame that asks for a 1 GiB window (window descriptor exponent 20).
    let mut big_window = no_size.clone();
    big_window[5] = 20 << 3;
    let err = decompress(&big_window, zeros.len() as u64)
        .unwrap_err()
        .to_string();
    assert!(err.contains("window") || err.contains("Window"), "{err}");
    // Content size in the header that disagrees with the entry; a short frame; stray bytes.
    let text = sample(5000);
    let frame = compress(&text).unwrap();
    assert!(is_corrupt(decompress(&frame, 4999)));
    assert!(is_corrupt(decompress(&frame[..frame.len() - 1], 5000)));
    let mut stray = frame.clone();
    stray.extend_from_slice(&frame);
    assert!(is_corrupt(decompress(&stray, 5000)));
    // Not zstd at all (upstream's zlib fallback), and a skippable frame.
    assert!(is_corrupt(decompress(
        b"\x78\x9c\x4b\x04\x00\x00\x62\x00\x62",
        1
    )));
    assert!(is_corrupt(decompress(
        b"\x50\x2a\x4d\x18\x00\x00\x00\x00",
        0
    )));
}

#[test]
fn random_garbage_never_panics() {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let frame = unhex(ONE_SHOT);
    for _ in 0..3000 {
        let mut f = frame.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % f.len() as u64) as usize;
            f[i] ^= 1 << (next() % 8);
        }
        let _ = decompress(&f, 1200);
        let n = (next() % 64) as usize;
        let junk: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        let _ = Package::parse(&junk);
        let _ = decompress(&junk, next() % 100_000);
    }
}

/// A frame by hand: no content size, a 1 KiB window (descriptor 0), then `blocks` as
/// (type, Block_Size, content); the last one is marked last.
fn hand_frame(blocks: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut f = ZSTD_MAGIC.to_vec();
    f.extend_from_slice(&[0x00, 0x00]);
    for (i, (kind, size, content)) in blocks.iter().enumerate() {
        let last = u32::from(i + 1 == blocks.len());
        f.extend_from_slice(&(size << 3 | kind << 1 | last).to_le_bytes()[..3]);
        f.extend_from_slice(content);
    }
    f
}

#[test]
fn frames_are_checked_before_any_codec_sees_them() {
    // Raw and RLE blocks: the walk knows exactly what they decode to.
    let frame = hand_frame(&[(0, 5, b"hello"), (1, 300, b"!")]);
    let want = [b"hello".as_slice(), &[b'!'; 300]].concat();
    assert_eq!(decompress(&frame, 305).unwrap(), want);
    let err = decompress(&frame, 306).unwrap_err().to_string();
    assert!(err.contains("at most 305"), "{err}");
    assert!(is_corrupt(decompress(&frame, 304)));
    for (what, bad) in [
        ("reserved block type", hand_frame(&[(3, 1, b"x")])),
        ("block over the window", hand_frame(&[(1, 1025, b"x")])),
        ("no last block", hand_frame(&[(0, 1, b"x")])[..9].to_vec()),
        (
            "skippable frame",
            [
                &[0x50, 0x2a, 0x4d, 0x18][..],
                &hand_frame(&[(0, 1, b"x")])[4..],
            ]
            .concat(),
        ),
    ] {
        let err = decompress(&bad, 1).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{what}: {err}");
    }
    // A dictionary id (1 byte, not 0), a reserved header bit; a dictionary id of 0 is none.
    let mut dict = hand_frame(&[(0, 1, b"x")]);
    dict[4] = 0x01;
    dict.insert(6, 7);
    assert!(
        decompress(&dict, 1)
            .unwrap_err()
            .to_string()
            .contains("dictionary")
    );
    dict[6] = 0;
    assert_eq!(decompress(&dict, 1).unwrap(), b"x");
    let mut reserved = hand_frame(&[(0, 1, b"x")]);
    reserved[4] = 0x08;
    assert!(
        decompress(&reserved, 1)
            .unwrap_err()
            .to_string()
            .contains("reserved")
    );
    // A single-segment frame's window is its content size, here over the 128 MiB cap: 1600
    // RLE blocks of 128 KiB (200 MiB), refused before anything is decoded.
    let mut single = ZSTD_MAGIC.to_vec();
    single.push(0xE0);
    single.extend_from_slice(&(200u64 << 20).to_le_bytes());
    for i in 0..1600u32 {
        single.extend_from_slice(
            &((128 << 10) << 3 | 1 << 1 | u32::from(i == 1599)).to_le_bytes()[..3],
        );
        single.push(0);
    }
    assert!(
        decompress(&single, 200 << 20)
            .unwrap_err()
            .to_string()
            .contains("window")
    );
}

/// Codecs that misbehave: each `decompress` outcome is fixed, `calls` counts them.
struct Rogue {
    frame: Option<Vec<u8>>,
    output: fn(usize) -> Result<Vec<u8>>,
    calls: std::cell::Cell<usize>,
}

impl ZstdCodec for Rogue {
    fn compress(&self, _: &[u8]) -> Option<Vec<u8>> {
        self.frame.clone()
    }
    fn decompress(&self, _: &[u8], original_size: usize) -> Result<Vec<u8>> {
        self.calls.set(self.calls.get() + 1);
        (self.output)(original_size)
    }
}

fn rogue(output: fn(usize) -> Result<Vec<u8>>) -> Rogue {
    Rogue {
        frame: None,
        output,
        calls: std::cell::Cell::new(0),
    }
}

#[test]
fn a_codec_that_fails_or_lies_gives_a_typed_error() {
    let text = sample(5000);
    let pkg = build(&[("data_t.npkd", &text)], Compression::Zstd).unwrap();
    let parsed = Package::parse(&pkg).unwrap();
    assert!(parsed.entries()[0].is_compressed());
    let failing = rogue(|_| {
        Err(Error::Corrupt(
            "zstd frame is corrupt: the codec said no".into(),
        ))
    });
    let err = parsed.files_with(true, &failing).unwrap_err().to_string();
    assert!(
        err.contains("data_t.npkd") && err.contains("the codec said no"),
        "{err}"
    );
    let oom = rogue(|_| Err(Error::OutOfMemory("the codec's buffer".into())));
    assert!(matches!(
        parsed.files_with(true, &oom),
        Err(Error::OutOfMemory(_))
    ));
    for short_or_long in [
        (|n| Ok(vec![0; n - 1])) as fn(usize) -> Result<Vec<u8>>,
        |n| Ok(vec![0; n + 1]),
        |_| Ok(vec![]),
    ] {
        let err = parsed.files_with(true, &rogue(short_or_long)).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt(m) if m.contains("not the declared 5000")),
            "{err}"
        );
    }
    // The right size with the wrong bytes is caught by the checksum.
    let wrong_bytes = rogue(|n| Ok(vec![0; n]));
    assert!(
        parsed
            .files_with(true, &wrong_bytes)
            .unwrap_err()
            .to_string()
            .contains("checksum")
    );
    assert_eq!(
        parsed.files_with(false, &wrong_bytes).unwrap()[0].1.len(),
        5000
    );
    // A frame that fails the checks never reaches the codec.
    let counting = rogue(|n| Ok(vec![0; n]));
    let frame = compress(&text).unwrap();
    for (bad, size) in [
        (&frame[..frame.len() - 1], 5000),
        (&frame[..], 4999),
        (&frame[..], 1 << 40),
    ] {
        assert!(is_corrupt(decompress_with(&counting, bad, size)));
    }
    assert_eq!(counting.calls.get(), 0);
    assert_eq!(
        decompress_with(&counting, &frame, 5000).unwrap().len(),
        5000
    );
    assert_eq!(counting.calls.get(), 1);
}

#[test]
fn a_writer_keeps_only_sound_smaller_frames_of_its_codec() {
    let text = sample(5000);
    let good = compress(&text).unwrap();
    let mut no_size = compress_to_vec(text.as_slice(), CompressionLevel::Fastest);
    assert_eq!(no_size[4] >> 6, 0);
    // A frame of 20,000 bytes whose header claims 5,000 (4-byte content size at byte 6).
    let mut too_big = compress(&sample(20_000)).unwrap();
    too_big[6..10].copy_from_slice(&5000u32.to_le_bytes());
    assert_eq!(good[4] & 0x20, 0, "a window descriptor at byte 5");
    let mut huge_window = good.clone();
    huge_window[5] = 20 << 3;
    let trailing = [good.as_slice(), b"\0"].concat();
    for (frame, kept) in [
        (Some(good.clone()), true),
        (None, false),
        (Some(no_size.clone()), false),
        (Some(too_big), false),
        (Some(huge_window), false),
        (Some(trailing), false),
    ] {
        let codec = Rogue {
            frame,
            output: |_| Ok(vec![]),
            calls: std::cell::Cell::new(0),
        };
        let mut w = Writer::new(Vec::new(), Compression::Zstd, 2, codec).unwrap();
        assert_eq!(w.add("data_t.npkd", &text).unwrap() != 0, kept);
        assert_eq!(
            w.add("data_e.npkd", b"").unwrap(),
            0,
            "an empty file is never compressed"
        );
        let pkg = w.finish().unwrap();
        assert_eq!(decode(&pkg).unwrap()["data_t.npkd"], text);
    }
    no_size.truncate(0);
    assert!(
        compress_with(
            &Rogue {
                frame: Some(no_size),
                output: |_| Ok(vec![]),
                calls: Default::default()
            },
            &text
        )
        .is_none()
    );
}

#[test]
fn writer_counts_its_entries() {
    let mut w = Writer::new(Vec::new(), Compression::None, 1, Ruzstd).unwrap();
    assert!(matches!(
        Writer::new(Vec::new(), Compression::None, 0, Ruzstd)
            .unwrap()
            .add("a", b""),
        Err(Error::InvalidArgument(_))
    ));
    w.add("a", b"1").unwrap();
    assert!(w.add("b", b"2").is_err());
    assert!(matches!(
        Writer::new(Vec::new(), Compression::None, 2, Ruzstd)
            .unwrap()
            .finish(),
        Err(Error::InvalidArgument(_))
    ));
}
