// Puts the daemon inside the extension, following the layout of microsoft's Python tools
// extension template: bundled/tool holds our Python packages (daemon/ and wire/, the
// stdlib-only protocol package), bundled/libs the pure-Python dependencies. The extension starts
// `<python> -m daemon` with PYTHONPATH=bundled/tool:bundled/libs.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ext = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = join(ext, '..');
const tool = join(ext, 'bundled', 'tool');
const libs = join(ext, 'bundled', 'libs');

// Dependencies of the daemon at run time (pyproject's pygls and lsprotocol, with theirs).
const PACKAGES = ['pygls', 'lsprotocol', 'cattrs', 'attrs', 'websockets', 'typing_extensions', 'exceptiongroup'];
const SKIP_DAEMON = new Set(['gen_ts.py']); // build-time generator, not needed at run time
// Python packages copied whole into bundled/tool (sources only).
const TOOL_PACKAGES = ['daemon', 'wire'];

function python() {
  if (process.env.ENSEMBLE_BUILD_PYTHON) {
    return process.env.ENSEMBLE_BUILD_PYTHON;
  }
  const venv = join(repo, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

function copyTool() {
  rmSync(tool, { recursive: true, force: true });
  for (const pkg of TOOL_PACKAGES) {
    mkdirSync(join(tool, pkg), { recursive: true });
    cpSync(join(repo, pkg), join(tool, pkg), {
      recursive: true,
      filter: (src) => {
        const name = src.split(/[\\/]/).pop();
        return statSync(src).isDirectory() ? name !== '__pycache__' : name.endsWith('.py') && !SKIP_DAEMON.has(name);
      },
    });
  }
}

/** Pinned requirement lines: the versions installed in the build interpreter, so the .vsix matches what the tests ran. */
function requirements(py) {
  const code =
    'import importlib.metadata as m, sys\n' +
    'for n in sys.argv[1:]:\n' +
    '    try: print(f"{n}=={m.version(n)}")\n' +
    '    except m.PackageNotFoundError: pass\n';
  const out = execFileSync(py, ['-c', code, ...PACKAGES], { encoding: 'utf8' });
  const pins = out.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const required of ['pygls', 'lsprotocol', 'cattrs', 'attrs', 'websockets']) {
    if (!pins.some((p) => p.startsWith(`${required}==`))) {
      throw new Error(`${required} is not installed in ${py}: run \`make venv\` first`);
    }
  }
  // exceptiongroup and typing_extensions are needed by cattrs on Python 3.10.
  if (!pins.some((p) => p.startsWith('exceptiongroup=='))) {
    pins.push('exceptiongroup>=1.1');
  }
  return pins;
}

const COPY_INSTALLED = `
import importlib.metadata as m, os, re, shutil, sys
target = sys.argv[1]
for spec in sys.argv[2:]:
    name = re.split(r"[=<>]", spec)[0]
    try:
        dist = m.distribution(name)
    except m.PackageNotFoundError:
        print(f"warning: {name} is not installed, not bundled", file=sys.stderr)
        continue
    for f in dist.files or []:
        rel = str(f)
        if rel.startswith("..") or "__pycache__" in rel:
            continue
        dst = os.path.join(target, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(dist.locate_file(f), dst)
`;

/** Removes compiled extension modules so the bundle is pure Python and portable. */
function stripNative(dir) {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) {
      if (name === '__pycache__' || name === 'bin') {
        rmSync(path, { recursive: true, force: true });
      } else {
        removed += stripNative(path);
      }
    } else if (/\.(so|pyd|dylib)$/.test(name)) {
      rmSync(path);
      removed++;
    }
  }
  return removed;
}

function installLibs(py) {
  const pins = requirements(py);
  const stamp = join(libs, '.requirements');
  const wanted = pins.join('\n');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) {
    console.log(`bundled/libs is up to date (${pins.join(', ')})`);
    return;
  }
  rmSync(libs, { recursive: true, force: true });
  mkdirSync(libs, { recursive: true });
  try {
    execFileSync(
      py,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--no-compile',
        '--only-binary', ':all:', '--target', libs, ...pins],
      { stdio: 'inherit' },
    );
  } catch (err) {
    // Offline: copy the same distributions from the build interpreter's site-packages.
    console.warn(`pip install failed (${err.message}); copying the installed packages instead`);
    execFileSync(py, ['-c', COPY_INSTALLED, libs, ...pins], { stdio: 'inherit' });
  }
  const removed = stripNative(libs);
  writeFileSync(stamp, wanted);
  console.log(`bundled/libs: ${pins.join(', ')} (${removed} native modules removed)`);
}

const py = python();
copyTool();
installLibs(py);
console.log(`bundled the daemon into ${join('bundled', 'tool')} with ${py}`);
