//! `pow`, defined in this binary so that it starts without loading `libm.so.6`.
//!
//! Nothing of ours raises a number to a power, but two dependencies do: indicatif's ETA
//! estimator (`0.1f64.powf(age / 15.0)`, `backfill`'s progress bar) and tokio's multi-thread
//! scheduler (compiled in because `lambda_runtime` enables it; this command only builds
//! current-thread runtimes). `f64::powf` calls the C library's `pow`, which glibc keeps in
//! `libm.so.6`, not in `libc.so.6`: for that one symbol the dynamic loader opened, mapped and
//! relocated all of `libm` (hundreds of IFUNCs resolved) at every start of every subcommand,
//! about 60–80 µs of a 1.4 ms `encode` (docs/performance.md). With `pow` defined here, the linker
//! binds those calls to this function and, linking `--as-needed`, no longer records `libm` as
//! needed; the process maps no `libm` (`tests/encode.rs`).
//!
//! The body is rust-lang's `libm` crate: a port of FreeBSD's `e_pow.c` (musl's too), in Rust,
//! without `unsafe`. Its results are those of glibc's `pow` within one unit in the last place on
//! the tests' vectors (most bit for bit), and the same on every special case C99's Annex F lists.
//! None of the callers needs more: an ETA's weights, a scheduler's moving average.
//!
//! This is the workspace's one `unsafe`: `#[unsafe(no_mangle)]` gives the function the C name
//! `pow` (and its C signature, `double pow(double, double)`), which is what the attribute can
//! break: another definition of the same name. Within this executable there is none (`libm` is
//! not linked). The symbol is exported (the binary's dynamic symbol table lists it), so a shared
//! library loaded into the process that calls `pow` would bind to this one, with the same results
//! within one ulp; the process loads none that calls it (`libc`, `libgcc_s`). It is compiled for
//! Linux with glibc only, where it was measured; elsewhere `pow` comes from the system as before.

/// The C library's `double pow(double x, double y)`: `x` raised to the power `y`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(test)]
mod tests {
    use std::hint::black_box;

    use super::pow;

    /// `(x, y, pow(x, y))` as the bits of each `f64`, `pow` computed by CPython 3.11's
    /// `math.pow`, which calls glibc 2.36's `pow` (Debian 12): indicatif's ETA weights
    /// (`0.1 ** (age / 15)`), tokio's moving average (`0.9 ** n`), powers with exact results, the
    /// smallest subnormal and the largest power of two, and arguments drawn at random
    /// (`random.seed(14)`, x in [0.001, 1000), y in [-20, 20)).
    const GLIBC: &[(u64, u64, u64)] = &[
        (0x3fb999999999999a, 0x0000000000000000, 0x3ff0000000000000), // 0.1 ** 0.0 = 1.0
        (0x3fb999999999999a, 0x3f1179ec9cbd821e, 0x3feffebe1998310a), // 0.1 ** 6.666666666666667e-05 = 0.9998465061085267
        (0x3fb999999999999a, 0x3f91111111111111, 0x3feecb938a7546e6), // 0.1 ** 0.016666666666666666 = 0.9623506263980885
        (0x3fb999999999999a, 0x3fa1111111111111, 0x3feda2c3be30d750), // 0.1 ** 0.03333333333333333 = 0.9261187281287935
        (0x3fb999999999999a, 0x3fb1111111111111, 0x3feb723eab4b8f23), // 0.1 ** 0.06666666666666667 = 0.8576958985908941
        (0x3fb999999999999a, 0x3fb999999999999a, 0x3fe96b230bcdc434), // 0.1 ** 0.1 = 0.7943282347242815
        (0x3fb999999999999a, 0x3fc1111111111111, 0x3fe78a61a00eb741), // 0.1 ** 0.13333333333333333 = 0.7356422544596414
        (0x3fb999999999999a, 0x3fcf92c5f92c5f93, 0x3fe22231a3b61e1b), // 0.1 ** 0.24666666666666667 = 0.5666740605819912
        (0x3fb999999999999a, 0x3fd5555555555555, 0x3fddb4c7760bcff3), // 0.1 ** 0.3333333333333333 = 0.4641588833612779
        (0x3fb999999999999a, 0x3fe0000000000000, 0x3fd43d136248490f), // 0.1 ** 0.5 = 0.31622776601683794
        (0x3fb999999999999a, 0x3fe5555555555555, 0x3fcb93a6cec0b3b2), // 0.1 ** 0.6666666666666666 = 0.2154434690031884
        (0x3fb999999999999a, 0x3fefff74309b1a14, 0x3fb99a9b28d855c5), // 0.1 ** 0.9999333333333333 = 0.1000153517455465
        (0x3fb999999999999a, 0x3ff0000000000000, 0x3fb999999999999a), // 0.1 ** 1.0 = 0.1
        (0x3fb999999999999a, 0x4000000000000000, 0x3f847ae147ae147c), // 0.1 ** 2.0 = 0.010000000000000002
        (0x3fb999999999999a, 0x4008000000000000, 0x3f50624dd2f1a9fd), // 0.1 ** 3.0 = 0.0010000000000000002
        (0x3fb999999999999a, 0x4010000000000000, 0x3f1a36e2eb1c432e), // 0.1 ** 4.0 = 0.00010000000000000002
        (0x3fb999999999999a, 0x4020000000000000, 0x3e45798ee2308c3d), // 0.1 ** 8.0 = 1.0000000000000005e-08
        (0x3fb999999999999a, 0x4044000000000000, 0x37a16c26277757a7), // 0.1 ** 40.0 = 1.0000000000000022e-40
        (0x3feccccccccccccd, 0x3ff0000000000000, 0x3feccccccccccccd), // 0.9 ** 1.0 = 0.9
        (0x3feccccccccccccd, 0x4000000000000000, 0x3fe9eb851eb851ec), // 0.9 ** 2.0 = 0.81
        (0x3feccccccccccccd, 0x4008000000000000, 0x3fe753f7ced91688), // 0.9 ** 3.0 = 0.7290000000000001
        (0x3feccccccccccccd, 0x4024000000000000, 0x3fd650bf60432fd9), // 0.9 ** 10.0 = 0.3486784401000001
        (0x3feccccccccccccd, 0x404f800000000000, 0x3f55769fcf77d06a), // 0.9 ** 63.0 = 0.0013100205086376223
        (0x3feccccccccccccd, 0x4050000000000000, 0x3f5351296debd52d), // 0.9 ** 64.0 = 0.0011790184577738603
        (0x3feccccccccccccd, 0x408f400000000000, 0x366fee7413dac341), // 0.9 ** 1000.0 = 1.7478712517226947e-46
        (0x4000000000000000, 0x4024000000000000, 0x4090000000000000), // 2.0 ** 10.0 = 1024.0
        (0x4024000000000000, 0x4036000000000000, 0x4480f0cf064dd592), // 10.0 ** 22.0 = 1e+22
        (0x4008000000000000, 0x4044000000000000, 0x43e517168a4523fd), // 3.0 ** 40.0 = 1.2157665459056929e+19
        (0x4000000000000000, 0xc090c80000000000, 0x0000000000000001), // 2.0 ** -1074.0 = 5e-324
        (0x4000000000000000, 0x408ff80000000000, 0x7fe0000000000000), // 2.0 ** 1023.0 = 8.98846567431158e+307
        (0x3ff000001ad7f29b, 0x416312d000000000, 0x4005bf0a790ce6f2), // 1.0000001 ** 10000000.0 = 2.7182816941320818
        (0x3fe0000000000000, 0x3fe0000000000000, 0x3fe6a09e667f3bcd), // 0.5 ** 0.5 = 0.7071067811865476
        (0x401c000000000000, 0x3fd5555555555555, 0x3ffe9b5dba58189d), // 7.0 ** 0.3333333333333333 = 1.912931182772389
        (0x405ab515653a9568, 0x402034f3978d5350, 0x43586cd4a0102de8), // 106.82943087311799 ** 8.10342095947422 = 2.750023966134877e+16
        (0x40846056c52d3dca, 0x40319d355e3c13be, 0x4a3979bef9ee2e1b), // 652.0423682722551 ** 17.614095582644715 = 3.7232587730137663e+49
        (0x4070f1daf418c7ba, 0xc02389b7ad16ffc2, 0x3b00720dbb0ed828), // 271.1159554450966 ** -9.768979462678434 = 1.7004271216393748e-24
        (0x4086f07a1f5692e4, 0x40195a1cdcfead38, 0x43b432eaa7d5bc06), // 734.0596300853326 ** 6.338000729603031 = 1.4554836361603988e+18
        (0x4072efd19893fa4e, 0x401d7a305d74d938, 0x43bad6a74a27090e), // 302.9886709003812 ** 7.3693251230782195 = 1.93391702692653e+18
        (0x4078cac9b8a5cdf0, 0x4026338a2b16d7e8, 0x45ec393c0579a2d9), // 396.6742483593689 ** 11.100663515604495 = 6.987817991762556e+28
        (0x405d99a0ff2f62a4, 0xc02623828b4ab76b, 0x3b2b1602d4114fee), // 118.40045146586868 ** -11.069355347510017 = 1.1202499036056599e-23
        (0x408c2bb49a3d0f0a, 0xc016b6fb3fd7cdd0, 0x3c731f8205a35c1e), // 901.4631848116126 ** -5.6786928153482705 = 1.6586625934397508e-17
        (0x40704672fb2793d6, 0x402857ae4253c8e4, 0x46097293feb90ab6), // 260.40307155094104 ** 12.171251366355541 = 2.520205336207789e+29
        (0x4083bd5077a1800c, 0xc02c06123863b5f4, 0x37c91021e9c8c13f), // 631.6642906777574 ** -14.011857759639476 = 5.754186612505243e-40
        (0x40813aaa3b648a98, 0x401a3d66b581b08c, 0x43aab9adfdafba56), // 551.333121095161 ** 6.5599621162802 = 9.628808103820767e+17
        (0x40649e5ee2456ac9, 0x4018458fe1661388, 0x42b9e9e23911cc1a), // 164.94908250387223 ** 6.067931672911875 = 28492313465292.1
        (0x405ec1be03e1e30f, 0xc01a11c47371ba66, 0x3d1aedf3d5d53407), // 123.02722260531685 ** -6.517350963417448 = 2.3918202424130693e-14
        (0x4054cd5ef61e58d4, 0xc027a57191758ebe, 0x3b37fcb168ef5516), // 83.20892098392079 ** -11.823132081604282 = 1.984164923197473e-23
        (0x408e8fff16febb7e, 0xc00ed2e0e8ab2890, 0x3d8a76152e384a60), // 977.9995555783241 ** -3.852968042109815 = 3.008297049915442e-12
        (0x408ef3760e126a7a, 0xc003a1f39c24bf48, 0x3e67df22d7fe3e0b), // 990.4326440275902 ** -2.4540779303278306 = 4.4464367298450624e-08
        (0x4082fc40ba5aa9cc, 0x402dcec0e0689c1c, 0x488c1b44445083a6), // 607.5316054423397 ** 14.903815281648399 = 3.0605279652613438e+41
        (0x408577120d0ff0a4, 0xc02f13d5f6365276, 0x36c7a7d06dac126a), // 686.8838139767945 ** -15.53874177373039 = 8.28711240382029e-45
        (0x408268ad37bd9b42, 0x4015658e1748ffc4, 0x4302b2e79e9ada67), // 589.0845789731031 ** 5.349174846487532 = 657907181116236.9
        (0x4066a65d072a5897, 0xc030368db943d5d1, 0x3854ccfeb41994de), // 181.19885595579828 ** -16.213100031911214 = 2.4451177597512085e-37
        (0x408b565a34ab80d7, 0x3fe1a3e84b8f5a00, 0x4044ed7859ef9237), // 874.7940457724279 ** 0.5512582278996092 = 41.85523533056078
        (0x40683add513fdebb, 0xbffe55ddfe1214b0, 0x3f0822c65d7b5794), // 193.83951628183954 ** -1.895963661635772 = 4.603546011387665e-05
        (0x406b4609b2a72123, 0x4027dbfe7ed03156, 0x45b9c16ca2534c11), // 218.1886838211295 ** 11.92967602054038 = 7.970960938674131e+27
    ];

    /// How far apart two finite `f64`s of the same sign are, in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        assert_eq!(
            a.is_sign_negative(),
            b.is_sign_negative(),
            "{a} against {b}"
        );
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn within_one_ulp_of_glibc_and_mostly_the_same_bits() {
        let mut exact = 0;
        for &(x, y, want) in GLIBC {
            let (x, y, want) = (f64::from_bits(x), f64::from_bits(y), f64::from_bits(want));
            let got = pow(x, y);
            let off = ulps(got, want);
            assert!(
                off <= 1,
                "pow({x:?}, {y:?}) = {got:?}, glibc {want:?}: {off} ulps"
            );
            exact += usize::from(off == 0);
        }
        // Both are nearly correctly rounded: they disagree in the last bit rarely, if at all.
        assert!(
            exact * 10 >= GLIBC.len() * 9,
            "{exact} of {} bit for bit",
            GLIBC.len()
        );
    }

    /// The callers reach this function: in this binary `f64::powf` is the `pow` above.
    #[test]
    fn f64_powf_gives_the_same_bits() {
        for &(x, y, _) in GLIBC {
            let (x, y) = (f64::from_bits(x), f64::from_bits(y));
            assert_eq!(
                black_box(x).powf(black_box(y)).to_bits(),
                pow(x, y).to_bits()
            );
        }
    }

    /// C99 Annex F.9.4.4, case by case (the same in glibc).
    #[test]
    fn the_special_cases_of_c99_annex_f() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        let same = |got: f64, want: f64| {
            if want.is_nan() {
                assert!(got.is_nan(), "{got:?} for NaN");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{got:?} for {want:?}");
            }
        };
        // pow(x, ±0) is 1 for any x, even a NaN; pow(+1, y) is 1 for any y, even a NaN.
        for x in [0.0, -0.0, 2.5, -3.0, inf, -inf, nan] {
            same(pow(x, 0.0), 1.0);
            same(pow(x, -0.0), 1.0);
        }
        for y in [0.0, 7.5, -7.5, inf, -inf, nan] {
            same(pow(1.0, y), 1.0);
        }
        // Zeros to odd and other powers.
        same(pow(0.0, -3.0), inf);
        same(pow(-0.0, -3.0), -inf);
        same(pow(0.0, -2.0), inf);
        same(pow(-0.0, -inf), inf);
        same(pow(0.0, 3.0), 0.0);
        same(pow(-0.0, 3.0), -0.0);
        same(pow(-0.0, 2.0), 0.0);
        // -1 to ±∞; |x| < 1 and > 1 to ±∞.
        same(pow(-1.0, inf), 1.0);
        same(pow(-1.0, -inf), 1.0);
        same(pow(0.5, inf), 0.0);
        same(pow(0.5, -inf), inf);
        same(pow(2.0, inf), inf);
        same(pow(2.0, -inf), 0.0);
        // ±∞ to powers.
        same(pow(-inf, -3.0), -0.0);
        same(pow(-inf, -2.0), 0.0);
        same(pow(-inf, 3.0), -inf);
        same(pow(-inf, 2.0), inf);
        same(pow(inf, -1.0), 0.0);
        same(pow(inf, 0.5), inf);
        // A negative base to a power that is not an integer; NaN in, NaN out.
        same(pow(-8.0, 1.0 / 3.0), nan);
        same(pow(nan, 2.0), nan);
        same(pow(2.0, nan), nan);
        // Negative bases to integer powers; overflow and underflow.
        same(pow(-2.0, 3.0), -8.0);
        same(pow(-2.0, 4.0), 16.0);
        same(pow(2.0, 1024.0), inf);
        same(pow(-2.0, 1025.0), -inf);
        same(pow(2.0, -1075.0), 0.0);
    }
}
