import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand('rlLens.hello', () => vscode.window.showInformationMessage('RL Lens')));
}

export function deactivate(): void { /* disposables are in context.subscriptions */ }
