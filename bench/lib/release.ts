import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoPath } from '../../test/kit/paths.js';

// Another revision of Hookline built from git beside this checkout, for the
// figures that divide this build by it (bench/scenarios/release.ts,
// bench/compare.ts): a detached worktree under the temporary directory, with
// node_modules of its own (npm ci) unless its lock file is this checkout's,
// compiled with its own tsconfig, removed again by `remove`.

/**
 * The release `npm run bench` compares with when neither `--against` nor a
 * tag says otherwise: the one issue 22 measured the publish regression against.
 */
export const DEFAULT_RELEASE = 'da52644';

export interface Build {
  /** As given (`--against`, a tag, or DEFAULT_RELEASE). */
  ref: string;
  sha: string;
  /** Its dist/, for spawnServer's distRoot. */
  dist: string;
  remove(): void;
}

// Piped, so that a failure carries what the command said (see `said`) instead of printing it among the bench's lines.
const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: repoPath(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The last lines a failed command wrote, for the error that names it. */
function said(e: unknown): string {
  const out = e as { message?: string; stdout?: string | Buffer; stderr?: string | Buffer };
  const text = `${out.stdout?.toString() ?? ''}\n${out.stderr?.toString() ?? ''}`.trim().split('\n').slice(-15);
  return `${out.message ?? String(e)}${text.length && text[0] ? `\n${text.join('\n')}` : ''}`;
}

/**
 * `--against REF` when given, else the newest tag reachable from HEAD (the one
 * before it when HEAD is itself tagged: a release is compared with the previous
 * one, not with itself), else DEFAULT_RELEASE.
 */
export function previousRelease(against?: string): string {
  if (against) return against;
  const describe = (rev: string) => {
    try {
      return execFileSync('git', ['describe', '--tags', '--abbrev=0', rev], {
        cwd: repoPath(),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return undefined;
    }
  };
  const tag = describe('HEAD');
  if (tag === undefined) return DEFAULT_RELEASE;
  if (git('rev-parse', `${tag}^{commit}`) !== git('rev-parse', 'HEAD')) return tag;
  return describe(`${tag}^`) ?? DEFAULT_RELEASE;
}

/** Checks `ref` out and compiles it; a failure removes what it made before it throws. */
export function buildRevision(ref: string): Build {
  let sha: string;
  try {
    sha = git('rev-parse', '--verify', '--short', `${ref}^{commit}`);
  } catch {
    throw new Error(
      `the revision to compare with, '${ref}', is not a commit here (a tag, branch or commit id was expected)`,
    );
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `hookline-release-${sha}-`));
  const remove = () => {
    // The link goes first, so that nothing removing the tree can reach this checkout's packages through it.
    const modules = path.join(dir, 'node_modules');
    if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) unlinkSync(modules);
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      git('worktree', 'prune');
    }
  };
  try {
    git('worktree', 'add', '--detach', dir, sha);
    const lock = (root: string) => readFileSync(path.join(root, 'package-lock.json'), 'utf8');
    // The same lock file installs the same packages: this checkout's copy serves, read-only.
    if (lock(dir) === lock(repoPath()) && existsSync(repoPath('node_modules')))
      symlinkSync(repoPath('node_modules'), path.join(dir, 'node_modules'));
    else execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'pipe' });
    execFileSync('npx', ['tsc', '-p', '.'], { cwd: dir, stdio: 'pipe' });
  } catch (e) {
    remove();
    throw new Error(`building ${ref} (${sha}) in ${dir} failed: ${said(e)}`, { cause: e });
  }
  return { ref, sha, dist: path.join(dir, 'dist'), remove };
}
