/** A form's error, announced to screen readers as it appears; nothing when there is none. */
export function ErrorMessage({ text, id }: { text: string; id?: string }) {
  if (!text) return null;
  return (
    <p id={id} class="error" role="alert">
      {text}
    </p>
  );
}
