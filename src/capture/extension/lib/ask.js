// How the popup and options pages ask the service worker to do something.
export async function ask(request, details = {}) {
  const answer = await chrome.runtime.sendMessage({ request, ...details });
  if (!answer?.ok) throw new Error(answer?.error ?? "The extension did not answer.");
  return answer.value;
}
