/**
 * Loading code the user names in a run config (task.rewardModule, rl.env.module): one rule for all of them.
 * Refused unless the caller says the workspace is trusted (the CLI is trusted; the extension passes VS Code's
 * Workspace Trust as RL_LENS_TRUSTED), because such a module runs code.
 */
import * as path from 'path';

export interface UserModuleOptions {
  trusted: boolean;
  /** relative paths resolve against this folder (the config's), default the working directory */
  baseDir?: string;
}

/**
 * `require` the module at `modulePath` (CommonJS, or a default export) and return its exports.
 * `field` names the config field in errors; `what` says what the module does ("custom reward modules run code").
 */
export function loadUserModule(modulePath: string, opts: UserModuleOptions, field: string, what: string): { abs: string; mod: unknown } {
  if (!opts.trusted) {
    throw new Error(`${field}: refusing to load ${JSON.stringify(modulePath)}: the workspace is not trusted (${what}). Trust the workspace, or remove ${field} to use the built-in one.`);
  }
  const abs = path.resolve(opts.baseDir ?? process.cwd(), modulePath);
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const req: NodeRequire = typeof require === 'function' ? require : (new Function('m', 'return require(m)') as NodeRequire);
    return { abs, mod: req(abs) };
  } catch (e) {
    throw new Error(`${field}: cannot load ${abs}: ${(e as Error).message}`);
  }
}
