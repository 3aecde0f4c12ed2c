// The deploy comment, asked in a <dialog> (no prompt()): resolves to the comment or null (cancelled).
export function askComment(translate) {
  let dialog = document.getElementById('designer-deploy-dialog');
  if (!dialog) {
    dialog = document.createElement('dialog');
    dialog.id = 'designer-deploy-dialog';
    dialog.className = 'ld-dialog';
    const form = document.createElement('form');
    form.method = 'dialog';
    const title = document.createElement('h2');
    title.textContent = translate('Deploy this draft');
    const label = document.createElement('label');
    label.textContent = translate('Comment for this version');
    const comment = document.createElement('textarea');
    comment.name = 'comment';
    comment.rows = 3;
    comment.maxLength = 2000;
    label.append(comment);
    const buttons = document.createElement('div');
    buttons.className = 'ld-dialog-buttons';
    const cancel = document.createElement('button');
    cancel.value = 'cancel';
    cancel.textContent = translate('Cancel');
    const ok = document.createElement('button');
    ok.value = 'deploy';
    ok.className = 'ld-primary';
    ok.textContent = translate('Deploy');
    buttons.append(cancel, ok);
    form.append(title, label, buttons);
    dialog.append(form);
    document.body.append(dialog);
  }
  const textarea = dialog.querySelector('textarea');
  textarea.value = '';
  return new Promise(resolve => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'deploy' ? textarea.value.trim() : null);
    }, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    textarea.focus();
  });
}
