// My orders: the answer forms of the buyer questions routed to this buyer (server-rendered);
// an answer goes to the API and the form gives way to a thank-you, or says why it was refused.
import { api } from "./common.js";

for (const form of document.querySelectorAll("form.ask-answer")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const item = form.closest("[data-question-id]");
    const notice = item.querySelector(".notice");
    const input = form.elements.namedItem("text");
    const url = `/api/v1/products/${encodeURIComponent(item.dataset.productId)}/buyer-questions/${encodeURIComponent(item.dataset.questionId)}/answers`;
    try {
      await api("POST", url, { text: input.value });
      form.remove();
      notice.textContent = "Thank you! Your answer is on the product.";
    } catch (err) {
      notice.textContent = err.message || "Your answer was not accepted.";
    }
    notice.hidden = false;
  });
}
