//! Command-line arguments.  Hand-parsed: a dozen options do not justify a
//! dependency tree on a 2-core build machine.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: kldcheck [--kpi-decls FILE] [--exports FILE] [--dep OTHER.ko]... [--kernel-release N]
                [--expect-module NAME]... [--expect-depend NAME]...
                [--max-text BYTES] [--hot-path SYMBOL]... [--hot-path-max N] MODULE.ko...

Checks FreeBSD amd64 kernel modules for what makes kldload fail or the
kernel misbehave: file type, linker sets, relocation types, FPU/SIMD
instructions, unresolvable or debug-only symbols, unintended exports and
inconsistent module metadata.  Exit status 0 only when nothing fails.

  --kpi-decls FILE      preprocessed FreeBSD headers (clang -E output); their
                        declared functions and extern variables may be used
  --exports FILE        intended exports, one symbol per line, # comments
                        (without it the module must export nothing)
  --dep OTHER.ko        module this one depends on; its global symbols may be used
  --kernel-release N    __FreeBSD_version the module must load on (e.g. 1500068)
  --expect-module NAME  an MDT_MODULE record NAME must exist
  --expect-depend NAME  an MDT_DEPEND record on NAME must exist
  --max-text BYTES      executable sections may total at most BYTES
  --hot-path SYMBOL     SYMBOL's fast path (shortest path to ret) must have no
                        call, no locked instruction and one %gs-relative add
  --hot-path-max N      ... and at most N instructions

usage: kldcheck kbi --module OBJ.o... --kernel OBJ.o... [--kernel-label NAME]
                [--require TYPE]...

Compares type layouts (DWARF, so build with -g) between the module's
objects and the same sources compiled as the kernel sees them: sizes,
members, offsets, bitfields, enumerators, and parameters of external
functions.  Exit status 0 only when no layout differs.

  --module OBJ.o        object compiled exactly as the module is (repeatable)
  --kernel OBJ.o        object compiled with the kernel's configuration (repeatable)
  --kernel-label NAME   how reports name the kernel view (default: kernel)
  --require TYPE        TYPE (`struct foo`, `cpuset_t`) must be defined in both
                        views; otherwise a type the kernel view lacks is a warning";

#[derive(Debug, Default)]
pub struct Options {
    pub kpi_decls: Option<PathBuf>,
    pub exports: Option<PathBuf>,
    pub deps: Vec<PathBuf>,
    pub kernel_release: Option<i32>,
    pub expect_modules: Vec<String>,
    pub expect_depends: Vec<String>,
    pub max_text: Option<u64>,
    pub hot_paths: Vec<String>,
    pub hot_path_max: Option<usize>,
    pub modules: Vec<PathBuf>,
}

/// Options of `kldcheck kbi`.
#[derive(Debug)]
pub struct KbiOptions {
    pub modules: Vec<PathBuf>,
    pub kernel: Vec<PathBuf>,
    pub kernel_label: String,
    pub require: Vec<String>,
}

pub enum Parsed {
    Run(Options),
    Kbi(KbiOptions),
    Help,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|first| first == "kbi") {
        args.next();
        return parse_kbi(args);
    }
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        if arg == "--" {
            options.modules.extend(args.by_ref().map(PathBuf::from));
            break;
        }
        if !arg.starts_with("--") {
            options.modules.push(PathBuf::from(arg));
            continue;
        }
        // Accept both `--opt value` and `--opt=value`.
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--kpi-decls" => options.kpi_decls = Some(value()?.into()),
            "--exports" => options.exports = Some(value()?.into()),
            "--dep" => options.deps.push(value()?.into()),
            "--kernel-release" => {
                let text = value()?;
                let release = text
                    .parse()
                    .map_err(|_| format!("--kernel-release: `{text}` is not a number"))?;
                options.kernel_release = Some(release);
            }
            "--expect-module" => options.expect_modules.push(value()?),
            "--expect-depend" => options.expect_depends.push(value()?),
            "--max-text" => {
                let text = value()?;
                let n = text
                    .parse()
                    .map_err(|_| format!("--max-text: `{text}` is not a number"))?;
                options.max_text = Some(n);
            }
            "--hot-path" => options.hot_paths.push(value()?),
            "--hot-path-max" => {
                let text = value()?;
                let n = text
                    .parse()
                    .map_err(|_| format!("--hot-path-max: `{text}` is not a number"))?;
                options.hot_path_max = Some(n);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.modules.is_empty() {
        return Err("no MODULE.ko given".to_owned());
    }
    Ok(Parsed::Run(options))
}

fn parse_kbi(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut options = KbiOptions {
        modules: Vec::new(),
        kernel: Vec::new(),
        kernel_label: "kernel".to_owned(),
        require: Vec::new(),
    };
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--module" => options.modules.push(value()?.into()),
            "--kernel" => options.kernel.push(value()?.into()),
            "--kernel-label" => options.kernel_label = value()?,
            "--require" => options.require.push(value()?),
            _ => return Err(format!("kbi: unexpected argument {arg}")),
        }
    }
    if options.modules.is_empty() || options.kernel.is_empty() {
        return Err("kbi needs at least one --module and one --kernel object".to_owned());
    }
    Ok(Parsed::Kbi(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().map(|s| s.to_string())) {
            Ok(Parsed::Run(options)) => options,
            Ok(_) => panic!("not parsed as a module check"),
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn repeatable_and_inline_values() {
        let options = run(&[
            "--dep",
            "a.ko",
            "--dep=b.ko",
            "--kernel-release",
            "1500068",
            "--expect-module=devref",
            "m.ko",
        ]);
        assert_eq!(options.deps, [PathBuf::from("a.ko"), PathBuf::from("b.ko")]);
        assert_eq!(options.kernel_release, Some(1500068));
        assert_eq!(options.expect_modules, ["devref"]);
        assert_eq!(options.modules, [PathBuf::from("m.ko")]);
    }

    #[test]
    fn kbi_subcommand() {
        let args = [
            "kbi",
            "--module",
            "a.o",
            "--module=b.o",
            "--kernel",
            "k.o",
            "--require",
            "struct foo",
            "--kernel-label=GENERIC",
        ];
        let Ok(Parsed::Kbi(options)) = parse(args.iter().map(|s| s.to_string())) else {
            panic!("not parsed as kbi");
        };
        assert_eq!(
            options.modules,
            [PathBuf::from("a.o"), PathBuf::from("b.o")]
        );
        assert_eq!(options.kernel, [PathBuf::from("k.o")]);
        assert_eq!(options.require, ["struct foo"]);
        assert_eq!(options.kernel_label, "GENERIC");
        // Both views are needed, and stray objects are not guessed at.
        let strings = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(parse(strings(&["kbi", "--module", "a.o"])).is_err());
        assert!(parse(strings(&[
            "kbi", "--module", "a.o", "--kernel", "k.o", "x.o"
        ]))
        .is_err());
    }

    #[test]
    fn rejects_missing_module_and_bad_numbers() {
        assert!(parse(["--exports".to_string(), "x".to_string()]).is_err());
        assert!(parse(["--kernel-release=15.0".to_string(), "m.ko".to_string()]).is_err());
        assert!(parse(["--bogus".to_string(), "m.ko".to_string()]).is_err());
    }
}
