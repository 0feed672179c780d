import { useState } from 'preact/hooks';
import { ErrorMessage } from './ErrorMessage.js';

/** The message box: Enter sends, Shift+Enter starts a new line. */
export function Composer({ label, send }: { label: string; send: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');

  const submit = async () => {
    const message = text.trim();
    if (!message) return;
    setError('');
    try {
      await send(message);
      setText('');
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Not sent: try again.');
    }
  };

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <label for="composer-text" class="visually-hidden">
        {label}
      </label>
      <textarea
        id="composer-text"
        rows={2}
        maxLength={4000}
        placeholder={label}
        value={text}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey) {
            event.preventDefault();
            void submit();
          }
        }}
      />
      <button type="submit">Send</button>
      <ErrorMessage text={error} />
    </form>
  );
}
